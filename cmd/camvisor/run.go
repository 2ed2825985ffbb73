package main

import (
	"context"
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

// cmdRun starts the server and runs until SIGTERM or SIGINT; SIGHUP
// reloads the configuration.
func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stdout)
	path := fs.String("config", "camvisor.yaml", "config file")
	listen := fs.String("listen", "", "HTTP listen address (overrides the config's listen)")
	dbPath := fs.String("db", "", "SQLite file (overrides the config's db)")
	node := fs.String("node", "", "cluster mode: this node's name (overrides cluster.node)")
	advertise := fs.String("advertise", "", "cluster mode: the URL the other nodes reach this node's API by (overrides cluster.advertise)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	logLevel, err := parseLevel(*level)
	if err != nil {
		return err
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
		return err
	}
	log := newLogger(stderr, logLevel)
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
	log.Info("camvisor started", "version", version, "run", env.RunID, "pid", os.Getpid(),
		"subnets", len(cfg.Subnets), "cameras", len(cfg.Cameras()), "db", cfg.DB, "url", httpd.URL(), "node", tree.NodeName())
	showToken(stderr, log, httpd.URL(), token, cfg, created)

	var reason string
	for reason == "" {
		select {
		case s := <-sigs:
			reason = s.String()
		case <-tree.Done():
			reason = "root stopped"
		case <-hups:
			// Logged and recorded by the tree; a bad file changes nothing.
			ctx, cancel := context.WithTimeout(context.Background(), 2*stopBudget(cfg))
			_, _ = tree.Reload(ctx, "signal SIGHUP")
			cancel()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpStopWait)
	_ = httpd.Shutdown(ctx)
	cancel()
	if err := stopTree(tree, cfg, reason); err != nil {
		return err
	}
	log.Info("camvisor stopped", "reason", reason)
	return nil
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

// parseLevel reads --log-level; CAMVISOR_DEBUG=1 still means debug.
func parseLevel(v string) (slog.Level, error) {
	if os.Getenv("CAMVISOR_DEBUG") != "" {
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
