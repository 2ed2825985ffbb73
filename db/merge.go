package db

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// OpenReport opens what a report reads: the record at paths[0] as it is
// when it is the only one and of this binary's schema; else every file
// merged into one (Merge), each checked first as OpenReadOnly checks it
// (so a file that is not a record is refused before anything is copied).
// The cleanup closes (and removes) what it opened.
func OpenReport(ctx context.Context, paths []string) (*Store, func(), error) {
	for _, p := range paths {
		s, err := OpenReadOnly(p)
		if err != nil {
			return nil, nil, err
		}
		v, err := s.Version()
		if len(paths) == 1 && err == nil && v == SchemaVersion {
			return s, func() { s.Close() }, nil
		}
		s.Close()
	}
	s, cleanup, err := Merge(ctx, paths)
	if err == nil && len(paths) == 1 {
		s.Path = paths[0]
	}
	return s, cleanup, err
}

// Merge reads the records of several nodes of a cluster (each keeps its
// own file) into one, for one report over them all: a consistent copy of
// each (Backup, so a running node's file is fine), brought to this
// binary's schema, then every row of every table, each run keeping its
// run_key and each row its node (a file of a single node, whose rows have
// none, is named by its file's base name). The merged record is a
// temporary file, removed by the returned cleanup; its Path names the
// files merged.
func Merge(ctx context.Context, paths []string) (*Store, func(), error) {
	dir, err := os.MkdirTemp("", "camvisor-merge-")
	if err != nil {
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	fail := func(err error) (*Store, func(), error) {
		cleanup()
		return nil, nil, err
	}
	merged, err := Open(filepath.Join(dir, "merged.db"))
	if err != nil {
		return fail(err)
	}
	merged.DB.SetMaxOpenConns(1) // ATTACH holds for one connection only
	for i, p := range paths {
		if _, err := os.Stat(p); err != nil {
			merged.Close()
			return fail(fmt.Errorf("%s: %w", p, err))
		}
		copyPath := filepath.Join(dir, fmt.Sprintf("node%d.db", i))
		if err := Backup(ctx, p, copyPath); err != nil {
			merged.Close()
			return fail(err)
		}
		c, err := Open(copyPath) // migrates the copy to this binary's schema
		if err != nil {
			merged.Close()
			return fail(fmt.Errorf("%s: %w", p, err))
		}
		c.Close()
		label := filepath.Base(p)
		if len(paths) == 1 {
			label = "" // one file: its rows keep no node, as on a single node
		}
		if err := merged.mergeFrom(ctx, copyPath, label); err != nil {
			merged.Close()
			return fail(fmt.Errorf("merge %s: %w", p, err))
		}
	}
	merged.Path = strings.Join(paths, " + ")
	return merged, func() { merged.Close(); cleanup() }, nil
}

// mergeFrom copies every row of the record at path into s; label names
// the node of rows that name none.
func (s *Store) mergeFrom(ctx context.Context, path, label string) error {
	conn, err := s.DB.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, path); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `DETACH DATABASE src`)
	var tables []string
	if err := conn.SelectContext(ctx, &tables, `SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`); err != nil {
		return err
	}
	// Runs first: every other row finds its run by run_key.
	tables = slices.DeleteFunc(tables, func(t string) bool { return t == "runs" })
	tables = append([]string{"runs"}, tables...)
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range tables {
		var cols []struct {
			CID     int     `db:"cid"`
			Name    string  `db:"name"`
			Type    string  `db:"type"`
			NotNull bool    `db:"notnull"`
			Default *string `db:"dflt_value"`
			PK      int     `db:"pk"`
		}
		if err := tx.Select(&cols, `SELECT * FROM pragma_table_info(?, 'main')`, t); err != nil {
			return err
		}
		pks := 0
		for _, c := range cols {
			if c.PK > 0 {
				pks++
			}
		}
		var names, values []string
		hasRun := false
		for _, c := range cols {
			switch {
			case c.Name == "id" && c.PK == 1 && pks == 1 && strings.EqualFold(c.Type, "INTEGER") && t != "events":
				continue // a row number: the merged file numbers its rows anew
			case c.Name == "run_id" && t != "runs":
				hasRun = true
				values = append(values, "m.id")
			case c.Name == "node" && label != "":
				values = append(values, "COALESCE(s.node, "+quote(label)+")")
			default:
				values = append(values, "s."+c.Name)
			}
			names = append(names, c.Name)
		}
		q := fmt.Sprintf("INSERT OR IGNORE INTO main.%s (%s) SELECT %s FROM src.%s s", t, strings.Join(names, ", "), strings.Join(values, ", "), t)
		if hasRun {
			q += " JOIN src.runs sr ON sr.id = s.run_id JOIN main.runs m ON m.run_key = sr.run_key"
		}
		if _, err := tx.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	return tx.Commit()
}

// quote is a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
