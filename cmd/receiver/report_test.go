package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/internal/s3test"
	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/reportpdf/pdftest"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// TestReportPDFCommand runs the monthly job against a real SQLite store
// as the systemd timer does: every site, the last month over, into
// reports.dir; then one site into --out. The PDFs' text is read back with
// pdftotext.
func TestReportPDFCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "receiver.yaml")
	os.WriteFile(cfgPath, []byte("state_dir: "+dir+"\nsites:\n  les-pins:\n    energy: {standby_w: 200, trip_wh: 10, per_floor_wh: 3}\n"), 0o600)
	seedReports(t, cfgPath)

	ctx := context.Background()
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := reportCmd(ctx, args, now, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errb := run("pdf", "--config", cfgPath, "--tz", "Europe/Paris", "--lang", "fr,it")
	if code != 0 {
		t.Fatalf("report pdf: %d %s %s", code, out, errb)
	}
	var want []string
	for _, site := range []string{"les-pins", "villa-b"} {
		for _, l := range []string{"fr", "it"} {
			want = append(want, filepath.Join(dir, "reports", site, "2026-11."+l+".pdf"))
		}
	}
	if got := strings.Fields(out); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	fr := pdftest.Text(t, want[0])
	for _, w := range []string{"Rapport mensuel des ascenseurs — les-pins — novembre 2026", "fuseau horaire Europe/Paris", "Cabine a",
		"Trajets 3", "Personnes bloquées 1 · total 25 min 0 s", "Énergie estimée", "veille 200 W, trajet 10,0 Wh, étage supplémentaire 3,0 Wh"} {
		if !strings.Contains(fr, w) {
			t.Errorf("%q missing from %s:\n%s", w, want[0], fr)
		}
	}
	if it := pdftest.Text(t, want[1]); !strings.Contains(it, "Corse 3") || !strings.Contains(it, "novembre 2026") {
		t.Errorf("Italian PDF:\n%s", it)
	}
	// A site without energy parameters says so, and is not estimated.
	if vb := pdftest.Text(t, want[2]); !strings.Contains(vb, "non estimée : aucun paramètre d'énergie pour ce site") {
		t.Errorf("villa-b PDF:\n%s", vb)
	}
	one := filepath.Join(dir, "one.pdf")
	if code, out, errb := run("pdf", "--config", cfgPath, "--site", "villa-b", "--month", "2026-11", "--lang", "en", "--out", one); code != 0 || out != one+"\n" {
		t.Fatalf("--out: %d %s %s", code, out, errb)
	}
	if en := pdftest.Text(t, one); !strings.Contains(en, "Monthly lift report — villa-b — November 2026") {
		t.Errorf("English PDF:\n%s", en)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pdf", "--month", "2026-11"}, "--config"},
		{[]string{"pdf", "--config", cfgPath, "--month", "11/2026"}, "--month"},
		{[]string{"pdf", "--config", cfgPath, "--lang", "fr,de"}, "--lang \"de\""},
		{[]string{"pdf", "--config", cfgPath, "--tz", "Mars/Olympus"}, "--tz"},
		{[]string{"pdf", "--config", cfgPath, "--site", "../etc"}, "--site"},
		{[]string{"pdf", "--config", cfgPath, "--out", one}, "--out"},
		{[]string{"html"}, "usage"},
	} {
		if code, _, errb := run(tc.args...); code != 2 || !strings.Contains(errb, tc.want) {
			t.Errorf("%q: %d %s, want usage naming %s", tc.args, code, errb, tc.want)
		}
	}
	// A month not begun fails, saying so.
	if code, _, errb := run("pdf", "--config", cfgPath, "--month", "2027-01"); code != 1 || !strings.Contains(errb, "has not begun") {
		t.Errorf("future month: %d %s", code, errb)
	}
}

// seedReports stores November 2026 of two sites, one cabin each, in the
// store cfgPath names.
func seedReports(t *testing.T, cfgPath string) {
	t.Helper()
	cfg, err := receiver.ParseFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := receiver.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var seq uint64
	ev := func(at time.Duration, typ string, data any) wire.Event {
		seq++
		e := storetest.Event(seq, typ, data)
		e.Time = nov.Add(at)
		return e
	}
	for _, site := range []string{"les-pins", "villa-b"} {
		if err := st.UpdateStatus(ctx, site, "a", true, nov.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		b := wire.Batch{V: wire.Version, Site: site, Cabin: "a", Epoch: "e", Events: []wire.Event{
			ev(9*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 3, Direction: "up", DurationMS: 9000}),
			ev(10*time.Hour, wire.TypeTrip, wire.TripData{From: 3, To: 0, Direction: "down", DurationMS: 9000}),
			ev(24*time.Hour, wire.TypeTrip, wire.TripData{From: 0, To: 1, Direction: "up", DurationMS: 5000}),
			ev(48*time.Hour, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Floor: 1}),
			ev(48*time.Hour+25*time.Minute, wire.TypeEntrapment, wire.EntrapmentData{Active: false, Floor: 1}),
		}}
		if _, err := st.InsertBatches(ctx, []wire.Batch{b}, nov.Add(72*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
}

// TestReportPDFToBucket runs the job as the Helm chart's CronJob does,
// with reports.s3: the PDFs land in the bucket under the prefix, where
// every receiver replica reads them (OpenReports, as the API does).
func TestReportPDFToBucket(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{TLS: true})
	access, secret := srv.KeyFiles(t)
	bucket := srv.Bucket(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "receiver.yaml")
	os.WriteFile(cfgPath, []byte("state_dir: "+dir+"\nreports:\n  s3:\n    endpoint: "+srv.Endpoint+"\n    bucket: "+bucket+
		"\n    region: "+s3test.Region+"\n    access_key_file: "+access+"\n    secret_key_file: "+secret+"\n    ca_file: "+srv.CAFile+
		"\n    path_style: true\n    prefix: palier/reports/\n"), 0o600)
	seedReports(t, cfgPath)
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := reportCmd(ctx, []string{"pdf", "--config", cfgPath, "--site", "les-pins"}, time.Date(2026, 12, 1, 3, 30, 0, 0, time.UTC), &out, &errb); code != 0 {
		t.Fatalf("report pdf: %d %s %s", code, out.String(), errb.String())
	}
	if want := "s3://" + bucket + "/palier/reports/les-pins/2026-11.fr.pdf\n"; out.String() != want {
		t.Fatalf("wrote %q, want %q", out.String(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "reports")); !os.IsNotExist(err) {
		t.Fatalf("the job also wrote to the state directory: %v", err)
	}
	cfg, err := receiver.ParseFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	files, err := receiver.OpenReports(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := files.Open(ctx, report.PDFPath("les-pins", "2026-11", "fr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	local := filepath.Join(dir, "from-bucket.pdf")
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(local, b, 0o600)
	if fr := pdftest.Text(t, local); !strings.Contains(fr, "Rapport mensuel des ascenseurs — les-pins — novembre 2026") {
		t.Errorf("PDF from the bucket:\n%s", fr)
	}
}
