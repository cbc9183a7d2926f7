package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// envFlags is a FlagSet whose flags fall back to environment variables.
type envFlags struct {
	fs  *flag.FlagSet
	env map[string]string // flag name → variable
}

func newEnvFlags(name string, out io.Writer) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &envFlags{fs: fs, env: map[string]string{}}
}

func (e *envFlags) str(p *string, name, env, usage string) {
	e.env[name] = env
	e.fs.StringVar(p, name, *p, usage+" (env "+env+")")
}

func (e *envFlags) int64(p *int64, name, env, usage string) {
	e.env[name] = env
	e.fs.Var((*int64Value)(p), name, usage+" (env "+env+")")
}

func (e *envFlags) duration(p *time.Duration, name, env, usage string) {
	e.env[name] = env
	e.fs.Var((*durationValue)(p), name, usage+" (env "+env+")")
}

func (e *envFlags) bool(p *bool, name, env, usage string) {
	e.env[name] = env
	e.fs.Var((*boolValue)(p), name, usage+" (env "+env+")")
}

// parse parses args, then sets every flag not given on the command line
// from its environment variable when that is set (flag > env > default).
// A bad value names the variable, the value and the expected form.
func (e *envFlags) parse(args []string, getenv func(string) string) error {
	if err := e.fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	e.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	e.fs.VisitAll(func(f *flag.Flag) {
		env := e.env[f.Name]
		if given[f.Name] || env == "" {
			return
		}
		if v := getenv(env); v != "" {
			if err := e.fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q (for -%s): %w", env, v, f.Name, err))
			}
		}
	})
	if e.fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(e.fs.Args(), " ")))
	}
	return errors.Join(errs...)
}

// The flag.Value types below replace the flag package's, whose errors say
// only "parse error": each says what form it wants.

// durationValue is a time.Duration flag.
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration: want a number with a unit, e.g. 30s, 5m, 1h30m")
	}
	*d = durationValue(v)
	return nil
}

// int64Value is an int64 flag.
type int64Value int64

func (n *int64Value) String() string { return strconv.FormatInt(int64(*n), 10) }

func (n *int64Value) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not a whole number: want digits only, e.g. 1000000 (no unit, no separator)")
	}
	*n = int64Value(v)
	return nil
}

// boolValue is a bool flag: "-name" alone means true.
type boolValue bool

func (b *boolValue) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) IsBoolFlag() bool { return true }

func (b *boolValue) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not a boolean: want true or false (or 1 or 0)")
	}
	*b = boolValue(v)
	return nil
}
