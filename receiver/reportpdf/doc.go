// Package reportpdf renders a site's monthly report (report.Monthly) as a
// PDF for the co-owners, in French, English or Italian. The fonts (the Go
// fonts, which cover French and Italian accents) are embedded in the PDF,
// so that it reads the same on every machine.
//
// It runs in the report job (receiver report pdf), never in the API's
// request path: a month of a large site is many pages, and rendering is
// where a query service once ran out of memory.
package reportpdf
