package main

// FerretDB 1.24's SQLite backend pushes a filter of exactly {_id: <value>} down to SQL as
// `WHERE _ferretdb_sjson->'$._id' = ?`, but the unique index it creates for _id is on the
// expression `_ferretdb_sjson->"_id"`. SQLite uses an expression index only for the very same
// expression, so every find, update and delete by _id scans the whole table (measured: 148 ms
// per find_one at 20,000 read-model documents, growing linearly). This file adds an index on
// the expression the queries use, for every collection table, as tables appear.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // FerretDB's own SQLite driver, already in the module graph
)

// indexIDPaths keeps every collection table of every database in dir indexed on the
// expression FerretDB queries _id with, checking again every interval until ctx ends.
func indexIDPaths(ctx context.Context, dir string, interval time.Duration, logger *slog.Logger) {
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			if err := indexDatabase(ctx, file); err != nil {
				logger.Warn("could not index _id lookups", "file", file, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func indexDatabase(ctx context.Context, file string) error {
	// A short busy timeout: FerretDB is the main writer; we come back next round.
	db, err := sql.Open("sqlite", "file:"+url.PathEscape(file)+"?_pragma=busy_timeout(2000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx,
		`SELECT table_name FROM _ferretdb_collections
		 WHERE NOT EXISTS (SELECT 1 FROM sqlite_master
		                   WHERE type = 'index' AND name = table_name || '__id_path')`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database FerretDB has not finished creating
		}
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`,
			t+"__id_path", t)
		if _, err := db.ExecContext(ctx, q); err != nil && !strings.Contains(err.Error(), "no such table") {
			return err
		}
	}
	return nil
}

// sqliteDir is the directory of a FerretDB --sqlite-url such as file:data/ or file:/abs/dir/.
func sqliteDir(sqliteURL string) string {
	u, err := url.Parse(sqliteURL)
	if err != nil {
		return ""
	}
	dir := u.Opaque
	if dir == "" {
		dir = u.Path
	}
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
