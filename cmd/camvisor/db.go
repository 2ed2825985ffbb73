package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"camvisor/actors/config"
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
		fmt.Fprintln(stdout, "camvisor db backup [--config FILE | --db FILE] --out COPY   consistent copy, safe while the server runs\n"+
			"camvisor db report [--config FILE | --db FILE] [--camera ID] [--since T]   the incident report\n"+
			"The record is --db, else the db: of --config's file.\nRun \"camvisor db SUBCOMMAND -h\" for its flags.")
		return nil
	case "backup":
		return cmdDBBackup(args[1:], stdout, stderr)
	case "report":
		return cmdDBReport(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "camvisor db: unknown subcommand %q: want backup or report\n", args[0])
	return errUsage
}

// recordFlags are the flags naming the record a db subcommand reads: --db,
// or the db: of --config's file.
type recordFlags struct {
	db, config *string
}

func addRecordFlags(fs *flags, what string) recordFlags {
	return recordFlags{
		db:     fs.String("db", defaultDB, what+" (default: the db: of --config's file, else "+defaultDB+")"),
		config: fs.String("config", "", "the server's config file: its db: is the record"),
	}
}

// defaultDB is the record of a server whose config does not name one
// (config.Defaults' db).
const defaultDB = "camvisor.db"

// path is the record: --db or --config, whichever came from the more
// binding place (the command line over the environment; --db when both
// came from the same), else the default.
func (r recordFlags) path(src sources) (string, error) {
	if src["db"] >= src["config"] && src["db"] > fromDefault || *r.config == "" {
		return *r.db, nil
	}
	cfg, err := config.Load(*r.config)
	if err != nil {
		return "", configError{err}
	}
	return cfg.DB, nil
}

func cmdDBBackup(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("db backup", stdout, stderr)
	rec := addRecordFlags(fs, "the record to copy (the server may be running)")
	out := fs.String("out", "", "the copy to write (must not exist)")
	src, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "camvisor db backup: --out is required")
		return errUsage
	}
	from, err := rec.path(src)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := db.Backup(context.Background(), from, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: consistent copy of %s written and checked in %s\n", *out, from, time.Since(start).Round(time.Millisecond))
	return nil
}

func cmdDBReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("db report", stdout, stderr)
	rec := addRecordFlags(fs, "the record (a copy made with db backup is best)")
	camera := fs.String("camera", "", "only this camera")
	since := fs.String("since", "", "only from this time: RFC 3339 (2026-11-26T03:00:00Z) or an age (2h, 3d)")
	html := fs.String("html", "", "write the report as pictures to this HTML file (one self-contained file) instead of text")
	src, err := parse(fs, args)
	if err != nil {
		return err
	}
	path, err := rec.path(src)
	if err != nil {
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
	s, err := db.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
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
	if err := f.Chmod(0o600); err != nil { // the record's content: its owner's only, like the record and its backups
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
