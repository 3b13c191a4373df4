package reportpdf

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/reportpdf/pdftest"
)

// golden is the report package's golden monthly report: two cabins, one
// with faults, an entrapment, alarms and an energy estimate.
func golden(t *testing.T) report.Monthly {
	t.Helper()
	b, err := os.ReadFile("../report/testdata/monthly/2026-03.json")
	if err != nil {
		t.Fatal(err)
	}
	var m report.Monthly
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRenderLanguages(t *testing.T) {
	m := golden(t)
	a := m.Cabins[0]
	dir := t.TempDir()
	shots := os.Getenv("PALIER_SCREENSHOT_DIR")
	if shots == "" {
		shots = filepath.Join("..", "..", ".artifacts", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"fr", []string{"Rapport mensuel des ascenseurs — m — mars 2026", "Période : du 1 mars 2026 au 31 mars 2026", "Cabine a", "Cabine b",
			"Disponibilité", "Trajets 62 · 2,0 par jour en moyenne", "Cycles de porte 31", "Pannes signalées 2 · durée cumulée 2 h 20 min",
			"code 31 (door lock)", "en cours à la fin du mois", "Personnes bloquées 1 · total 40 min 0 s", "prise en compte après 1 min 30 s",
			"Alarmes (bouton d'appel) 3 · prises en compte : 2 · délai médian de prise en compte 2 min 45 s", "jamais prise en compte",
			"Énergie estimée", "Estimation, non une mesure au compteur", "ISO 25745-2", "paramètres : veille 150 W, trajet 8,0 Wh, étage supplémentaire 2,0 Wh", "paramètres : veille 300 W, trajet 20,0 Wh", "Pas encore disponible", "Page 1 / "}},
		{"en", []string{"Monthly lift report — m — March 2026", "Cabin a", "Trips 62 · 2.0 a day on average", "Door cycles 31",
			"median time to acknowledge 2 min 45 s", "Estimated energy", "An estimate, not a meter reading", "Not yet available"}},
		{"it", []string{"Rapporto mensile degli ascensori — m — marzo 2026", "Cabina a", "Disponibilità", "Corse 62 · 2,0 al giorno in media",
			"Persone bloccate", "Energia stimata", "Una stima, non una lettura del contatore", "più per corsa"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, m, tc.lang); err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			if err := Render(&again, m, tc.lang); err != nil || !bytes.Equal(b.Bytes(), again.Bytes()) {
				t.Errorf("two renderings of one report differ (%v): a month's PDF should be the same file when made again", err)
			}
			pdf := filepath.Join(dir, "2026-03."+tc.lang+".pdf")
			if err := os.WriteFile(pdf, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			got := pdftest.Text(t, pdf)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q missing from the %s PDF's text:\n%s", w, tc.lang, got)
				}
			}
			// The figures, as the language writes them.
			w := languages[tc.lang]
			for _, fig := range []string{w.percent(*a.Availability.Availability), w.num(a.Energy.TotalKWh, 1) + " kWh"} {
				if !strings.Contains(got, fig) {
					t.Errorf("figure %q missing from the %s PDF", fig, tc.lang)
				}
			}
			// Every page rendered to a picture, kept as evidence.
			prefix := filepath.Join(shots, "monthly-report-"+tc.lang)
			if out, err := exec.Command(pdftest.Poppler(t, "pdftoppm"), "-png", "-r", "70", pdf, prefix).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v\n%s", err, out)
			}
			pages, _ := filepath.Glob(prefix + "-*.png")
			if len(pages) < 1 {
				t.Fatalf("pdftoppm made no page")
			}
			for _, p := range pages {
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(f)
				f.Close()
				if err != nil || img.Bounds().Dx() < 500 || img.Bounds().Dy() < 700 {
					t.Fatalf("%s: not an A4 page picture (%v)", p, err)
				}
			}
			t.Logf("%s: %d bytes, %d pages: %s-*.png", tc.lang, b.Len(), len(pages), prefix)
		})
	}
}

func TestRenderRefusesUnknownLanguage(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, golden(t), "de"); err == nil || !strings.Contains(err.Error(), "fr, en, it") {
		t.Fatalf("lang de: %v, want an error naming fr, en, it", err)
	}
}
