package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm/logger"
)

// gormLogger routes GORM's log to slog. SQL traces, including failed
// statements, go to Debug: errors are returned to the caller, who decides
// whether to log them (log or return, never both). Statements slower than
// slow are a Warn. Bound parameters are never logged (message contents and
// emails stay out of logs).
//
// Queries read with Raw(...).Find, never GORM's Scan: Scan records every
// statement with a logger of GORM's own that formats the SQL with its
// bound values (Dialector.Explain) whatever the log level, and hands that
// text, past ParamsFilter, to Trace: message contents and user ids in the
// Debug trace and in slow-SQL warnings, and 6% of a reconnect storm's
// allocations (bench/cmd/storm). TestGormLogger_NoScan keeps it so.
type gormLogger struct {
	log  *slog.Logger
	slow time.Duration
}

var _ logger.Interface = gormLogger{}

func (l gormLogger) LogMode(logger.LogLevel) logger.Interface { return l }

func (l gormLogger) Info(ctx context.Context, msg string, args ...any) {
	l.log.DebugContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
}

func (l gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.DebugContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
}

func (l gormLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.DebugContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
}

func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	slow := l.slow > 0 && elapsed > l.slow
	if !slow && !l.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	sql, rows := fc()
	attrs := []any{"sql", sql, "rows", rows, "duration", elapsed}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	if slow {
		l.log.WarnContext(ctx, "store: slow SQL", attrs...)
		return
	}
	l.log.DebugContext(ctx, "store: SQL", attrs...)
}

// ParamsFilter drops bound values from logged SQL.
func (l gormLogger) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	return sql, nil
}
