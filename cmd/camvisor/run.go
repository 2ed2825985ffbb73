package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"camvisor/actors"
	"camvisor/actors/config"

	"github.com/lmittmann/tint"
)

// cmdRun starts the server and runs until SIGTERM or SIGINT.
func cmdRun(args []string, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	path := fs.String("config", "camvisor.yaml", "config file")
	listen := fs.String("listen", "", "HTTP listen address (overrides the config's listen)")
	db := fs.String("db", "", "SQLite file (overrides the config's db)")
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
	if *db != "" {
		cfg.DB = *db
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr)

	env := &actors.Env{Config: cfg, Log: log, RunID: newRunID()}
	tree, err := actors.Start(env)
	if err != nil {
		return err
	}
	log.Info("camvisor started", "version", version, "run", env.RunID, "pid", os.Getpid(),
		"subnets", len(cfg.Subnets), "cameras", len(cfg.Cameras()))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	var reason string
	select {
	case s := <-sigs:
		reason = s.String()
	case <-tree.Done():
		reason = "root stopped"
	}
	// Every process's stop takes at most kill_grace; leave room for many.
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.FFmpeg.KillGrace.Duration+10*time.Second)
	defer cancel()
	if err := tree.Shutdown(ctx, reason); err != nil {
		return err
	}
	log.Info("camvisor stopped", "reason", reason)
	return nil
}

// newLogger writes tint-coloured lines to a terminal and JSON otherwise.
func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("CAMVISOR_DEBUG") != "" {
		level = slog.LevelDebug
	}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly}))
		}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// newRunID names this run; every process it starts carries it.
func newRunID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}
