package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"camvisor/actors"
	"camvisor/actors/config"
	"camvisor/web"

	"github.com/lmittmann/tint"
)

// cmdRun starts the server and runs until SIGTERM or SIGINT (exit 0);
// SIGHUP and `camvisor reload` reload the configuration. Under systemd
// (Type=notify) it reports its readiness, each reload and its stop over
// $NOTIFY_SOCKET. It fails with exitConfig when the configuration does
// not load, and with exitSoftware when the actor tree stops without being
// asked to, so that a service manager restarts it.
func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stdout, stderr)
	path := fs.String("config", "camvisor.yaml", "config file")
	listen := fs.String("listen", "", "HTTP listen address (overrides the config's listen)")
	dbPath := fs.String("db", "", "SQLite file (overrides the config's db)")
	node := fs.String("node", "", "cluster mode: this node's name (overrides cluster.node)")
	advertise := fs.String("advertise", "", "cluster mode: the URL the other nodes reach this node's API by (overrides cluster.advertise)")
	level := fs.String("log-level", "info", "debug, info, warn or error (CAMVISOR_DEBUG=1 means debug when neither sets it)")
	control := fs.String("control-socket", "", "unix socket `camvisor reload` asks this server through (mode 0600; put it in a directory only the service's user reaches)")
	src, err := parse(fs, args)
	if err != nil {
		return err
	}
	logLevel, err := parseLevel(*level, src["log-level"] > fromDefault)
	if err != nil {
		fmt.Fprintf(stderr, "camvisor: %v\n", err)
		return errUsage
	}
	// The file with the command line's overrides: at start and at each
	// reload alike.
	load := func() (*config.Config, error) {
		return config.LoadWith(*path, func(cfg *config.Config) {
			if *listen != "" {
				cfg.Listen = *listen
			}
			if *dbPath != "" {
				cfg.DB = *dbPath
			}
			if *node != "" {
				cfg.Cluster.Node = *node
			}
			if *advertise != "" {
				cfg.Cluster.Advertise = *advertise
			}
		})
	}
	cfg, err := load()
	if err != nil {
		return configError{err}
	}
	log := newLogger(stderr, logLevel)
	sd := newNotifier()
	// Before anything starts: a SIGTERM during start-up must still get the
	// ordered shutdown, not the default death.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)

	version := versionString()
	started := time.Now()
	env := &actors.Env{Config: cfg, Log: log, Record: true, Version: version, Wire: web.Wire, Load: load}
	tree, err := actors.Start(env)
	if err != nil {
		return err
	}
	token, created, err := web.LoadToken(cfg.Auth.Token, cfg.DB)
	if err != nil {
		stopTree(tree, cfg, "token: "+err.Error())
		return err
	}
	httpd := web.New(web.Options{Listen: cfg.Listen, DBPath: cfg.DB, Tree: tree, Config: cfg, Log: log, Token: token,
		Version: version, RunID: env.RunID, StartedAt: started})
	if err := httpd.Start(); err != nil {
		stopTree(tree, cfg, "http listen failed: "+err.Error())
		return err
	}
	tree.SetListen(httpd.Addr())
	reloads := &reloader{tree: tree, sd: sd, log: log, timeout: 2 * stopBudget(cfg)}
	var ctl *controlServer
	if *control != "" {
		if ctl, err = listenControl(*control, reloads, log); err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), httpStopWait)
			_ = httpd.Shutdown(ctx)
			cancel()
			stopTree(tree, cfg, "control socket: "+err.Error())
			return err
		}
	}
	log.Info("camvisor started", "version", version, "run", env.RunID, "pid", os.Getpid(),
		"subnets", len(cfg.Subnets), "cameras", len(cfg.Cameras()), "db", cfg.DB, "url", httpd.URL(), "node", tree.NodeName())
	showToken(stderr, log, httpd.URL(), token, cfg, created)
	sd.notify("READY=1", "STATUS="+patrolling(tree.Config()))
	onTreeStarted(tree)

	var reason string
	var stopErr error
	for reason == "" {
		select {
		case s := <-sigs:
			reason = s.String()
		case <-tree.Done():
			reason = "root stopped"
			stopErr = errTreeStopped
		case <-hups:
			// Logged and recorded by the tree; a bad file changes nothing.
			_, _ = reloads.reload("signal SIGHUP")
		}
	}
	sd.notify("STOPPING=1", "STATUS=stopping: "+reason)
	if ctl != nil {
		ctl.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpStopWait)
	_ = httpd.Shutdown(ctx)
	cancel()
	if err := stopTree(tree, cfg, reason); err != nil {
		return errors.Join(stopErr, err)
	}
	if stopErr != nil {
		log.Error("camvisor stopped on its own", "reason", reason)
		return stopErr
	}
	log.Info("camvisor stopped", "reason", reason)
	return nil
}

// onTreeStarted is called with the tree once the server is ready: a test
// stops the root through it, as a failure would, to see the exit status.
var onTreeStarted = func(*actors.Tree) {}

// patrolling is the service's status line while it runs.
func patrolling(cfg *config.Config) string {
	return fmt.Sprintf("patrolling %d cameras in %d subnets", len(cfg.Cameras()), len(cfg.Subnets))
}

// httpStopWait bounds the HTTP server's shutdown, before the tree's.
const httpStopWait = 5 * time.Second

// stopTreeWait is the tree's shutdown beyond its processes' kill grace:
// the recorder's last batch, the gateway's removals.
const stopTreeWait = 20 * time.Second

// stopBudget is how long a stop may take, from SIGTERM to exit: every
// process's stop takes at most kill_grace, and they stop in parallel,
// with room for the rest. A service manager must wait longer before it
// kills what is left (systemd's TimeoutStopSec): camvisor.service's is
// this, for the default kill_grace, plus a margin.
func stopBudget(cfg *config.Config) time.Duration {
	return httpStopWait + 4*cfg.FFmpeg.KillGrace.Duration + stopTreeWait
}

// showToken tells the operator how to sign in. The token itself is
// printed only to a terminal, once, and never logged: stderr that is not a
// terminal ends in a journal or a file other users or backups may read.
// Otherwise the log says where the token is.
func showToken(stderr io.Writer, log *slog.Logger, url, token string, cfg *config.Config, created bool) {
	where := "from config auth.token"
	if cfg.Auth.Token == "" {
		where = "stored in " + cfg.DB + ".token, mode 0600"
		if created {
			where = "new, " + where
		}
	}
	if isTerminal(stderr) {
		fmt.Fprintf(stderr, "\n  dashboard: %s\n  token:     %s  (%s)\n\n", url, token, where)
		return
	}
	log.Info("dashboard ready; the operator token is not printed (stderr is not a terminal)", "url", url, "token", where)
}

// stopTree stops the actor tree in order and records the stop.
func stopTree(tree *actors.Tree, cfg *config.Config, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.FFmpeg.KillGrace.Duration+stopTreeWait)
	defer cancel()
	return tree.Stop(ctx, reason)
}

// parseLevel reads --log-level. CAMVISOR_DEBUG=1 means debug only when
// the level was set neither on the command line nor in
// CAMVISOR_LOG_LEVEL: the command line wins over every variable.
func parseLevel(v string, set bool) (slog.Level, error) {
	if !set && os.Getenv("CAMVISOR_DEBUG") != "" {
		return slog.LevelDebug, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return 0, fmt.Errorf("--log-level: %q must be debug, info, warn or error", v)
	}
	return l, nil
}

// newLogger writes tint-coloured lines to a terminal (plain when NO_COLOR
// is set, as no-color.org asks) and JSON otherwise.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	if isTerminal(w) {
		noColor := os.Getenv("NO_COLOR") != ""
		return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: noColor}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// isTerminal reports whether w is a terminal (a person reads it now).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
