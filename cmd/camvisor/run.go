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

// cmdRun starts the server and runs until SIGTERM or SIGINT.
func cmdRun(args []string, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	path := fs.String("config", "camvisor.yaml", "config file")
	listen := fs.String("listen", "", "HTTP listen address (overrides the config's listen)")
	dbPath := fs.String("db", "", "SQLite file (overrides the config's db)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dbPath != "" {
		cfg.DB = *dbPath
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr)
	// Before anything starts: a SIGTERM during start-up must still get the
	// ordered shutdown, not the default death.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	started := time.Now()
	env := &actors.Env{Config: cfg, Log: log, Record: true, Version: version, Wire: web.Wire}
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
	log.Info("camvisor started", "version", version, "run", env.RunID, "pid", os.Getpid(),
		"subnets", len(cfg.Subnets), "cameras", len(cfg.Cameras()), "db", cfg.DB, "url", httpd.URL())
	showToken(stderr, log, httpd.URL(), token, cfg, created)

	var reason string
	select {
	case s := <-sigs:
		reason = s.String()
	case <-tree.Done():
		reason = "root stopped"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = httpd.Shutdown(ctx)
	cancel()
	if err := stopTree(tree, cfg, reason); err != nil {
		return err
	}
	log.Info("camvisor stopped", "reason", reason)
	return nil
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

// stopTree stops the actor tree in order and records the stop. Every
// process's stop takes at most kill_grace, and they stop in parallel;
// leave room for the rest.
func stopTree(tree *actors.Tree, cfg *config.Config, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.FFmpeg.KillGrace.Duration+20*time.Second)
	defer cancel()
	return tree.Stop(ctx, reason)
}

// newLogger writes tint-coloured lines to a terminal and JSON otherwise.
func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("CAMVISOR_DEBUG") != "" {
		level = slog.LevelDebug
	}
	if isTerminal(w) {
		return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly}))
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
