package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/reportfiles"
	"github.com/palier-lifts/palier/receiver/reportpdf"
	"github.com/palier-lifts/palier/wire"
)

const reportUsage = `usage:
  report pdf --config FILE [--site SITE]... [--month YYYY-MM] [--tz ZONE] [--lang fr,en,it] [--out FILE]
    renders the monthly report of each site (default: every site with cabins) for the
    month (default: the last month over, in ZONE) into reports.dir/{site}/{month}.{lang}.pdf
    or the reports.s3 bucket, where the API serves it, or into --out (one site, one language)
`

// reportCmd runs "receiver report pdf ...": the monthly report job, a
// process of its own (a systemd timer starts it), so that rendering never
// runs in the API's requests. It returns the exit code: 0 done, 1
// failed, 2 usage.
func reportCmd(ctx context.Context, args []string, now time.Time, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "pdf" {
		fmt.Fprint(stderr, reportUsage)
		return 2
	}
	fs := flag.NewFlagSet("report pdf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the receiver's config file (YAML): its store, reports.dir or reports.s3 and sites' energy parameters")
	month := fs.String("month", "", "the month, YYYY-MM; default: the last month over")
	tz := fs.String("tz", "UTC", "the IANA time zone of the month's days, e.g. Europe/Paris")
	langs := fs.String("lang", report.Languages[0], "the languages, comma-separated: "+strings.Join(report.Languages, ", "))
	out := fs.String("out", "", "write to this file instead of reports.dir (one site, one language)")
	var sites siteList
	fs.Var(&sites, "site", "a site to report (repeat for several); default: every site with cabins")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, reportUsage)
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "report pdf: "+format+"\n", a...)
		return 2
	}
	if *configPath == "" {
		return usage("--config is required (the receiver's config file, which says where its store is)")
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil || *tz == "Local" {
		return usage("--tz %q is not an IANA time zone (e.g. Europe/Paris)", *tz)
	}
	if *month == "" {
		n := now.In(loc)
		*month = time.Date(n.Year(), n.Month()-1, 1, 0, 0, 0, 0, loc).Format("2006-01")
	}
	if _, _, err := report.ParseMonth(*month, loc); err != nil {
		return usage("--month: %v", err)
	}
	var languages []string
	for _, l := range strings.Split(*langs, ",") {
		if !slices.Contains(report.Languages, l) {
			return usage("--lang %q (want %s, comma-separated)", l, strings.Join(report.Languages, ", "))
		}
		languages = append(languages, l)
	}
	for _, s := range sites {
		if err := wire.ValidateID(s); err != nil {
			return usage("--site %q: %v", s, err)
		}
	}
	if *out != "" && (len(sites) != 1 || len(languages) != 1) {
		return usage("--out writes one file: give one --site and one --lang")
	}
	cfg, err := receiver.ParseFile(*configPath)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "report pdf: %s: %v\n", *configPath, err)
		return 1
	}
	st, err := receiver.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "report pdf: open the store: %v\n", err)
		return 1
	}
	defer st.Close()
	files, err := receiver.OpenReports(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "report pdf: %v\n", err)
		return 1
	}
	if len(sites) == 0 {
		cabins, err := st.Cabins(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "report pdf: list the sites: %v\n", err)
			return 1
		}
		for _, c := range cabins {
			if !slices.Contains(sites, c.Site) {
				sites = append(sites, c.Site)
			}
		}
	}
	failed := false
	for _, site := range sites {
		m, err := report.Month(ctx, st, site, *month, now, loc, report.MonthOptions{Energy: cfg.SiteEnergy(site), Play: report.StorePlays(st)})
		if err != nil {
			fmt.Fprintf(stderr, "report pdf: %v\n", err)
			failed = true
			continue
		}
		for _, lang := range languages {
			var pdf bytes.Buffer
			if err := reportpdf.Render(&pdf, m, lang); err != nil {
				fmt.Fprintf(stderr, "report pdf: %v\n", err)
				failed = true
				continue
			}
			dst, name := files, report.PDFPath(site, *month, lang)
			if *out != "" {
				dst, name = reportfiles.NewDir(filepath.Dir(*out)), filepath.Base(*out)
			}
			if err := dst.Put(ctx, name, pdf.Bytes()); err != nil {
				fmt.Fprintf(stderr, "report pdf: %v\n", err)
				failed = true
				continue
			}
			fmt.Fprintln(stdout, dst.Where(name))
		}
	}
	if failed {
		return 1
	}
	return 0
}
