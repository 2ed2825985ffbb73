package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"camvisor/actors"
	"camvisor/actors/config"
	"camvisor/actors/redact"
)

// cmdCheck validates a config file and prints a summary, with the
// service manager's limits that fit it.
func cmdCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stdout, stderr)
	path := fs.String("config", "camvisor.yaml", "config file to validate")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return configError{err}
	}
	n := 0
	for _, s := range cfg.Subnets {
		n += len(s.Cameras)
	}
	fmt.Fprintf(stdout, "%s: ok, %d subnets, %d cameras\n", *path, len(cfg.Subnets), n)
	fmt.Fprintf(stdout, "systemd: TimeoutStopSec=%d or more (from ffmpeg.kill_grace %s)\n", int(stopBudget(cfg).Seconds()+0.999), cfg.FFmpeg.KillGrace)
	fmt.Fprintf(stdout, "systemd: TasksMax=%d or more (from %d camera connections in max_connections)\n", tasksBudget(cfg), connections(cfg))
	checkDeclaredStreams(cfg, stdout)
	return nil
}

// Tasks (threads) the service may need, for systemd's TasksMax: a kernel
// backstop that stops a leak of processes long before the machine is
// full, and never stops camvisor's own work. Every ffmpeg holds one of its
// camera's max_connections slots, so their sum bounds the processes;
// camvisor's ffmpeg runs one thread (-threads 1; measured), and
// tasksPerFFmpeg leaves room for a hardware decoder's driver threads.
// camvisorTasks is the Go runtime's threads (one per CPU, a few blocked in
// system calls, SQLite's cgo calls; 10 measured with 20 cameras on 2 CPUs)
// with a wide margin.
const (
	tasksPerFFmpeg = 4
	camvisorTasks  = 128
	// defaultTasksMax is camvisor.service's TasksMax: what 96 camera
	// connections need (TestServiceUnit holds them to it).
	defaultTasksMax = 512
)

// connections is the sum of every camera's max_connections.
func connections(cfg *config.Config) int {
	n := 0
	for _, c := range cfg.Cameras() {
		n += c.MaxConnections
	}
	return n
}

// tasksBudget is the TasksMax a config needs, rounded up to 64.
func tasksBudget(cfg *config.Config) int {
	n := camvisorTasks + tasksPerFFmpeg*connections(cfg)
	return (n + 63) / 64 * 64
}

// checkDeclaredStreams warns about streams the cameras declare
// (go2rtc_streams) that go2rtc does not have, as the server does at
// start; it asks go2rtc only when one is configured and a camera declares
// a stream. Warnings, not errors: go2rtc may be started after camvisor.
func checkDeclaredStreams(cfg *config.Config, out io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Go2RTC.RequestTimeout.Duration+time.Second)
	defer cancel()
	missing, err := actors.CheckDeclaredStreams(ctx, cfg)
	if err != nil {
		fmt.Fprintf(out, "warning: go2rtc at %s could not be listed, declared go2rtc_streams not checked: %s\n",
			redact.URL(cfg.Go2RTC.URL), redact.SecretURL(err.Error(), cfg.Go2RTC.URL))
		return
	}
	for _, line := range missing {
		fmt.Fprintf(out, "warning: %s\n", line)
	}
}
