package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"camvisor/actors"
	"camvisor/actors/config"
)

// cmdCheck validates a config file and prints a summary.
func cmdCheck(args []string, out io.Writer) error {
	fs := newFlags("check", out)
	path := fs.String("config", "camvisor.yaml", "config file to validate")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	n := 0
	for _, s := range cfg.Subnets {
		n += len(s.Cameras)
	}
	fmt.Fprintf(out, "%s: ok, %d subnets, %d cameras\n", *path, len(cfg.Subnets), n)
	fmt.Fprintf(out, "systemd: TimeoutStopSec=%d or more (from ffmpeg.kill_grace %s)\n", int(stopBudget(cfg).Seconds()+0.999), cfg.FFmpeg.KillGrace)
	checkDeclaredStreams(cfg, out)
	return nil
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
		fmt.Fprintf(out, "warning: go2rtc at %s could not be listed, declared go2rtc_streams not checked: %v\n", cfg.Go2RTC.URL, err)
		return
	}
	for _, line := range missing {
		fmt.Fprintf(out, "warning: %s\n", line)
	}
}
