package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"camvisor/db"
)

// cmdDB runs the record's subcommands.
func cmdDB(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "camvisor db: want a subcommand: backup, report")
		return errUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, "camvisor db backup --db FILE --out COPY   consistent copy, safe while the server runs\ncamvisor db report --db FILE [--db FILE ...] [--camera ID] [--since T] [--html OUT]   the incident report (of several nodes' records: one --db each)\nRun \"camvisor db SUBCOMMAND -h\" for its flags.")
		return nil
	case "backup":
		return cmdDBBackup(args[1:], stdout, stderr)
	case "report":
		return cmdDBReport(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "camvisor db: unknown subcommand %q: want backup or report\n", args[0])
	return errUsage
}

func cmdDBBackup(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("db backup", stdout)
	src := fs.String("db", "camvisor.db", "the record to copy (the server may be running)")
	out := fs.String("out", "", "the copy to write (must not exist)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "camvisor db backup: --out is required")
		return errUsage
	}
	start := time.Now()
	if err := db.Backup(context.Background(), *src, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: consistent copy of %s written and checked in %s\n", *out, *src, time.Since(start).Round(time.Millisecond))
	return nil
}

func cmdDBReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("db report", stdout)
	var paths dbList
	fs.Var(&paths, "db", "the record (a copy made with db backup is best); repeat it to merge several nodes' records into one report (default \"camvisor.db\")")
	camera := fs.String("camera", "", "only this camera")
	since := fs.String("since", "", "only from this time: RFC 3339 (2026-11-26T03:00:00Z) or an age (2h, 3d)")
	html := fs.String("html", "", "write the report as pictures to this HTML file (one self-contained file) instead of text")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts := db.ReportOptions{Camera: *camera}
	if *since != "" {
		t, err := db.ParseSince(*since, time.Now())
		if err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		opts.Since = t
	}
	if env := os.Getenv(envName("db")); env != "" && flagSet(fs, "db") {
		var fromEnv dbList
		_ = fromEnv.Set(env)
		paths = paths[len(fromEnv):] // the command line wins
	}
	if len(paths) == 0 {
		paths = dbList{"camvisor.db"}
	}
	s, closeReport, err := db.OpenReport(context.Background(), paths)
	if err != nil {
		return err
	}
	defer closeReport()
	if *html != "" {
		return writeHTMLReport(s, *html, opts, stdout)
	}
	return s.Report(stdout, opts)
}

// writeHTMLReport writes the report next to its final name and renames it
// into place: a failed report leaves no half-written file.
func writeHTMLReport(s *db.Store, out string, opts db.ReportOptions, stdout io.Writer) error {
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return fmt.Errorf("--html: %s is a directory", out)
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	if err := s.HTMLReport(w, opts); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("--html: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("--html: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	fmt.Fprintf(stdout, "%s: report of %s written; open it in any browser\n", out, s.Path)
	return nil
}

// dbList is a repeatable --db: the records of several nodes (its
// environment variable holds one path, or several separated by commas).
type dbList []string

func (l *dbList) String() string { return strings.Join(*l, ",") }

func (l *dbList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// flagSet reports whether the command line set flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
