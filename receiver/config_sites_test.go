package receiver

import (
	"strings"
	"testing"
)

func TestConfigSiteEnergy(t *testing.T) {
	cfg, err := Parse(strings.NewReader(`
sites:
  les-pins:
    energy: {standby_w: 120, trip_wh: 9.5, per_floor_wh: 1.5}
    cabins:
      b:
        energy: {standby_w: 300, trip_wh: 25}
  les-chenes: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if e := cfg.SiteEnergy("les-pins").For("a"); e == nil || e.StandbyW != 120 || e.TripWh != 9.5 || e.PerFloorWh != 1.5 {
		t.Fatalf("les-pins/a energy %+v, want the site's", e)
	}
	if e := cfg.SiteEnergy("les-pins").For("b"); e == nil || e.StandbyW != 300 || e.TripWh != 25 || e.PerFloorWh != 0 {
		t.Fatalf("les-pins/b energy %+v, want its own", e)
	}
	if d := cfg.ReportsDir(); d != "/var/lib/palier-receiver/reports" {
		t.Fatalf("reports dir %q, want the default under state_dir", d)
	}
	if e := cfg.SiteEnergy("les-chenes").For("a"); e != nil {
		t.Fatalf("les-chenes has no energy parameters, got %+v", e)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"sites:\n  les-pins:\n    energy: {standby_w: -3, trip_wh: 9}\n", "sites.les-pins.energy: standby_w: -3 (want 0 to 5000 W)"},
		{"sites:\n  les-pins:\n    energy: {standby_w: 100, trip_wh: 9000}\n", "sites.les-pins.energy: trip_wh: 9000 (want 0 to 2000 Wh)"},
		{"sites:\n  les-pins:\n    energy: {}\n", "sites.les-pins.energy: standby_w, trip_wh, per_floor_wh: all zero"},
		{"sites:\n  \"a b\":\n    energy: {standby_w: 100}\n", "sites.a b: site id"},
		{"sites:\n  les-pins:\n    energy: {standby_kw: 1}\n", "standby_kw"},
		{"reports:\n  dir: reports\n", "reports.dir: \"reports\" is relative"},
		{"reports:\n  dir: /srv/reports\n  s3: {endpoint: \"https://s3.example\", bucket: palier, region: eu-west-3, access_key_file: /dev/null, secret_key_file: /dev/null}\n", "reports.dir: set with reports.s3.endpoint"},
		{"reports:\n  s3: {bucket: palier}\n", "reports.s3.endpoint: empty with bucket set"},
		{"reports:\n  s3: {endpoint: \"https://s3.example\", bucket: Palier_Reports, region: eu-west-3, access_key_file: /dev/null, secret_key_file: /dev/null}\n", "reports.s3.bucket"},
		{"sites:\n  les-pins:\n    cabins:\n      b:\n        energy: {standby_w: 100, per_floor_wh: -1}\n", "sites.les-pins.cabins.b.energy: per_floor_wh: -1"},
		{"sites:\n  les-pins:\n    cabins:\n      B:\n        energy: {standby_w: 100}\n", "sites.les-pins.cabins.B: cabin id"},
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
