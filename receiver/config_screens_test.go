package receiver

import (
	"strings"
	"testing"

	"github.com/palier-lifts/palier/receiver/httpapi"
)

func TestSiteScreensConfig(t *testing.T) {
	cfg, err := Parse(strings.NewReader(`
http:
  preview_dir: /usr/share/palier-receiver/preview
sites:
  les-pins:
    screens:
      building: Résidence Les Pins
      time_zone: Europe/Rome
      languages: [it, fr]
      layouts:
        - {layout: 800x480, orientation: landscape}
        - {layout: 1920x1080, orientation: portrait}
  les-chenes: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := cfg.SiteScreens("les-pins")
	if s.Building != "Résidence Les Pins" || s.TimeZone != "Europe/Rome" || strings.Join(s.Languages, ",") != "it,fr" ||
		len(s.Layouts) != 2 || s.Layouts[1] != (httpapi.ScreenLayout{Layout: "1920x1080", Orientation: "portrait"}) {
		t.Errorf("les-pins screens %+v", s)
	}
	for _, site := range []string{"les-chenes", "unknown"} {
		d := cfg.SiteScreens(site)
		if d.Building != site || d.TimeZone != "Europe/Monaco" || strings.Join(d.Languages, ",") != "fr,en,it" || len(d.Layouts) != 1 || d.Layouts[0] != (httpapi.ScreenLayout{Layout: "800x480", Orientation: "landscape"}) {
			t.Errorf("%s screens %+v, want the defaults named after the site", site, d)
		}
	}
	if cfg.HTTP.PreviewDir != "/usr/share/palier-receiver/preview" {
		t.Errorf("preview_dir %q", cfg.HTTP.PreviewDir)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"http:\n  preview_dir: preview\n", `http.preview_dir: "preview" is relative`},
		{"sites:\n  les-pins:\n    screens:\n      layouts:\n        - {layout: 800x480, orientation: landscape}\n        - {layout: 640x480, orientation: landscape}\n", `sites.les-pins.screens.layouts[1].layout: "640x480": want 800x480`},
		{"sites:\n  les-pins:\n    screens:\n      layouts:\n        - {layout: 800x480, orientation: sideways}\n", `sites.les-pins.screens.layouts[0].orientation: "sideways": want landscape or portrait`},
		{"sites:\n  les-pins:\n    screens:\n      time_zone: Mars/Olympus\n", `sites.les-pins.screens.time_zone: "Mars/Olympus" is not an IANA time zone`},
		{"sites:\n  les-pins:\n    screens:\n      languages: [fr, de]\n", `sites.les-pins.screens.languages: "de": want fr, en or it`},
		{"sites:\n  les-pins:\n    screens:\n      building: " + strings.Repeat("b", 81) + "\n", "sites.les-pins.screens.building: longer than 80"},
		{"sites:\n  les-pins:\n    screens:\n      layouts: [{size: 800x480}]\n", "size"},
	} {
		cfg, err := Parse(strings.NewReader(tc.yaml))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.yaml, err, tc.want)
		}
	}
}
