package main

import (
	"fmt"
	"io"

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
	return nil
}
