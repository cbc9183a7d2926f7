package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// Migrations live in migrations/ as NNNN_name.sql (portable) or
// NNNN_name.<dialect>.sql (dialect-specific; wins over the portable file of
// the same version for that dialect). Each version is applied once, in its
// own transaction together with its schema_migrations row, so a failed
// migration leaves nothing behind. Concurrent starts are serialized: on
// PostgreSQL by a transaction-scoped advisory lock, on SQLite by the
// immediate (write-locking) transactions the Store always uses.

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrationsFor returns the migrations of dialect d in version order.
func migrationsFor(d string) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	portable := map[int]migration{}
	specific := map[int]migration{}
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, rest, ok := strings.Cut(base, "_")
		if !ok {
			return nil, fmt.Errorf("store: migration %q: want NNNN_name.sql", e.Name())
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q: bad version", e.Name())
		}
		name, dialect, hasDialect := strings.Cut(rest, ".")
		if hasDialect && dialect != d {
			continue
		}
		target := portable
		if hasDialect {
			target = specific
		}
		if _, dup := target[v]; dup {
			return nil, fmt.Errorf("store: migration version %d defined twice", v)
		}
		body, err := fs.ReadFile(migrationFS, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		target[v] = migration{version: v, name: name, sql: string(body)}
	}
	byVersion := portable
	for v, m := range specific {
		byVersion[v] = m
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// statements splits a migration into statements: a statement ends with a
// line whose last non-space character is ';'. Comment-only lines are dropped.
func statements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// migrate applies the pending migrations and returns how many it applied.
func (s *Store) migrate(ctx context.Context) (int, error) {
	ms, err := migrationsFor(s.dialect)
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, m := range ms {
		did := false
		err := s.write(ctx, func(tx *gorm.DB) error {
			if s.dialect == DialectPostgres {
				// A migration may take longer than an event (and wait
				// for another instance's): no statement or lock
				// timeout inside it (Config.StatementTimeout).
				for _, q := range []string{"SET LOCAL statement_timeout = 0", "SET LOCAL lock_timeout = 0",
					"SELECT pg_advisory_xact_lock(7306245)"} { // arbitrary key: "sockgate migrations"
					if err := tx.Exec(q).Error; err != nil {
						return err
					}
				}
			}
			if err := tx.Exec(schemaMigrationsDDL).Error; err != nil {
				return err
			}
			var n int64
			if err := tx.Raw("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.version).Find(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range statements(m.sql) {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("%.60q: %w", stmt, err)
				}
			}
			did = true
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, micros(s.now())).Error
		})
		if err != nil {
			return applied, wrap(fmt.Sprintf("migrate %04d_%s", m.version, m.name), err)
		}
		if did {
			applied++
			s.log.Info("store: migration applied", "version", m.version, "name", m.name)
		}
	}
	return applied, nil
}
