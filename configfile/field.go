package configfile

import (
	"errors"
	"fmt"
	"strconv"
)

// FieldError is one problem of a configuration file.
type FieldError struct {
	// Field is the path as written in YAML (controller.baud,
	// http.tokens[1].name); empty when the problem is the file's as a
	// whole, such as a YAML syntax error.
	Field string
	// Line is the line in the file, when the decoder knows it; else 0.
	Line int
	// Problem says what is wrong and, where it helps, what would be valid.
	Problem string
}

func (e *FieldError) Error() string {
	s := e.Problem
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	if e.Line > 0 {
		s = "line " + strconv.Itoa(e.Line) + ": " + s
	}
	return s
}

// Problems collects the problems of one validation, in the order found. The
// zero value is ready to use.
type Problems struct {
	errs []error
}

// Add records a problem of field.
func (p *Problems) Add(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Nest records the problems of a part of the configuration (err as returned
// by the part's Validate) under prefix, the field that holds the part:
// "broker" becomes "uplink.broker". An error that is not a *FieldError is
// recorded as a problem of prefix itself.
func (p *Problems) Nest(prefix string, err error) {
	for _, e := range Each(err) {
		var fe *FieldError
		if !errors.As(e, &fe) {
			p.Add(prefix, "%v", e)
			continue
		}
		nested := *fe
		nested.Field = prefix
		if fe.Field != "" {
			nested.Field = prefix + "." + fe.Field
		}
		p.errs = append(p.errs, &nested)
	}
}

// Err returns nil without problems, else all of them joined: the message has
// one problem per line, and errors.As finds each *FieldError.
func (p *Problems) Err() error {
	return errors.Join(p.errs...)
}

// Each splits an error returned by Problems.Err (or errors.Join) into its
// problems; a single error is a list of one, nil an empty list.
func Each(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
