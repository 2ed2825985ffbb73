package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"camvisor/messages"
)

// cmdReload asks the server on --control-socket to reload its
// configuration and waits for the outcome: exit 0 when it applied (or
// nothing changed), exitConfig with the reason when the file was
// rejected (the previous configuration runs on), 1 when the server could
// not be asked or did not finish. systemd's ExecReload runs it, so that
// `systemctl reload camvisor` fails when the reload does.
func cmdReload(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reload", stdout, stderr)
	path := fs.String("control-socket", "", "the running server's --control-socket")
	wait := fs.Duration("timeout", 3*time.Minute, "how long to wait for the outcome")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "camvisor reload: --control-socket is required (the server's; without one, send it SIGHUP and read its log)")
		return errUsage
	}
	c, err := net.DialTimeout("unix", *path, 5*time.Second)
	if err != nil {
		return fmt.Errorf("reload: cannot reach the server: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(*wait))
	if _, err := io.WriteString(c, "reload\n"); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("reload: no answer from the server: %w", err)
	}
	var ans controlAnswer
	if err := json.Unmarshal(line, &ans); err != nil {
		return fmt.Errorf("reload: unreadable answer %q: %w", strings.TrimSpace(string(line)), err)
	}
	switch ans.Outcome {
	case messages.ReloadApplied, messages.ReloadUnchanged:
		fmt.Fprintf(stdout, "reload %s: %s\n", ans.Outcome, ans.Status)
		for _, l := range ans.Lines {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
		return nil
	case messages.ReloadRejected:
		return configError{fmt.Errorf("reload rejected, the previous configuration runs on: %s", ans.Error)}
	}
	return errors.New("reload " + ans.Outcome + ": " + ans.Error)
}
