package receiver

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/wire"
)

// SiteConfig is what the receiver knows of one site beyond what its
// cabins send: for now, the parameters of its monthly report's energy
// estimate.
type SiteConfig struct {
	// Energy: standby power and energy per trip of the site's lifts
	// (measured, or from the maker's data sheet), for the estimate in the
	// monthly report. Absent: the report has no energy estimate.
	Energy *report.Energy `yaml:"energy"`
	// Cabins: settings of cabins that differ from the site's, by cabin id.
	Cabins map[string]CabinSiteConfig `yaml:"cabins"`
	// Screens describes the site's cabin screens, for the notice preview;
	// absent: the screen's defaults (httpapi.DefaultSiteScreens).
	Screens *ScreensConfig `yaml:"screens"`
}

// ScreensConfig is what a site's cabin screens show and at which sizes,
// as their display configs say (packaging/display.yaml), so that the
// notice preview draws each of them.
type ScreensConfig struct {
	// Building is the name at the top of the screens; default the site id.
	Building string `yaml:"building"`
	// TimeZone of the screens' clock; default Europe/Monaco.
	TimeZone string `yaml:"time_zone"`
	// Languages of the screens' rotation; default fr, en, it.
	Languages []string `yaml:"languages"`
	// Layouts in use at the site; default one 800x480 landscape.
	Layouts []ScreenLayoutConfig `yaml:"layouts"`
}

// ScreenLayoutConfig is one screen size: ui.Config's layout and orientation.
type ScreenLayoutConfig struct {
	Layout      string `yaml:"layout"`
	Orientation string `yaml:"orientation"`
}

// CabinSiteConfig is a cabin's own settings within its site's.
type CabinSiteConfig struct {
	// Energy replaces the site's energy parameters for this cabin.
	Energy *report.Energy `yaml:"energy"`
}

// validateSites checks the sites' ids and energy parameters.
func (c *Config) validateSites(p *configfile.Problems) {
	for id, s := range c.Sites {
		field := "sites." + id
		if err := wire.ValidateID(id); err != nil {
			p.Add(field, "site id %v", err)
			continue
		}
		if s.Energy != nil {
			p.Nest(field+".energy", s.Energy.Validate(""))
		}
		for cabin, c := range s.Cabins {
			cfield := field + ".cabins." + cabin
			if err := wire.ValidateID(cabin); err != nil {
				p.Add(cfield, "cabin id %v", err)
				continue
			}
			if c.Energy != nil {
				p.Nest(cfield+".energy", c.Energy.Validate(""))
			}
		}
		if s.Screens != nil {
			validateScreens(p, field+".screens", id, *s.Screens)
		}
	}
}

// validateScreens checks a site's screens with the screen's own rules
// (ui.Config.Validate), each layout on its own, naming the field as
// written here.
func validateScreens(p *configfile.Problems, field, site string, s ScreensConfig) {
	d := siteScreens(site, &s)
	check := func(prefix string, cfg ui.Config, fields map[string]string) {
		for _, e := range configfile.Each(errors.Unwrap(cfg.Validate())) {
			var fe *configfile.FieldError
			if !errors.As(e, &fe) {
				p.Add(prefix, "%v", e)
				continue
			}
			if name, ok := fields[fe.Field]; ok {
				p.Add(prefix+"."+name, "%s", fe.Problem)
			}
		}
	}
	cfg := ui.DefaultConfig()
	cfg.Building, cfg.TimeZone, cfg.Languages = d.Building, d.TimeZone, d.Languages
	check(field, cfg, map[string]string{"building": "building", "time_zone": "time_zone", "languages": "languages"})
	for i, l := range d.Layouts {
		cfg := ui.DefaultConfig()
		cfg.Layout, cfg.Orientation = l.Layout, l.Orientation
		check(fmt.Sprintf("%s.layouts[%d]", field, i), cfg, map[string]string{"layout": "layout", "orientation": "orientation"})
	}
	if len(s.Layouts) > 16 {
		p.Add(field+".layouts", "%d layouts (at most 16: the preview draws each)", len(s.Layouts))
	}
}

// siteScreens is a site's screens with the defaults filled in.
func siteScreens(site string, s *ScreensConfig) httpapi.SiteScreens {
	out := httpapi.DefaultSiteScreens(site)
	if s == nil {
		return out
	}
	if s.Building != "" {
		out.Building = s.Building
	}
	if s.TimeZone != "" {
		out.TimeZone = s.TimeZone
	}
	if len(s.Languages) > 0 {
		out.Languages = slices.Clone(s.Languages)
	}
	if len(s.Layouts) > 0 {
		out.Layouts = make([]httpapi.ScreenLayout, len(s.Layouts))
		for i, l := range s.Layouts {
			out.Layouts[i] = httpapi.ScreenLayout{Layout: l.Layout, Orientation: l.Orientation}
		}
	}
	return out
}

// SiteScreens returns a site's screens, for the notice preview; a site
// not configured gets the defaults.
func (c *Config) SiteScreens(site string) httpapi.SiteScreens {
	return siteScreens(site, c.Sites[site].Screens)
}

// validateReports checks where the reports are kept.
func (c *Config) validateReports(p *configfile.Problems) {
	if d := c.Reports.Dir; d != "" && !filepath.IsAbs(d) {
		p.Add("reports.dir", "%q is relative (want an absolute path)", d)
	}
	checkS3(p.Add, "reports.s3", c.Reports.S3)
	if c.Reports.Dir != "" && c.Reports.S3.Endpoint != "" {
		p.Add("reports.dir", "set with reports.s3.endpoint (the PDFs live in one place: want reports.dir or reports.s3, not both)")
	}
}

// SiteEnergy returns a site's energy parameters, for its cabins.
func (c *Config) SiteEnergy(site string) report.SiteEnergy {
	s := c.Sites[site]
	out := report.SiteEnergy{Default: s.Energy}
	for id, cc := range s.Cabins {
		if cc.Energy != nil {
			if out.Cabins == nil {
				out.Cabins = map[string]report.Energy{}
			}
			out.Cabins[id] = *cc.Energy
		}
	}
	return out
}

// ReportsConfig says where the monthly report job writes its PDFs and
// the API serves them from.
type ReportsConfig struct {
	// Dir holds {site}/{YYYY-MM}.{lang}.pdf; default StateDir/reports.
	Dir string `yaml:"dir"`
	// S3 keeps them in a bucket instead (under its prefix), so that
	// every receiver replica serves what the report job rendered
	// wherever it ran (the Helm chart's CronJob): the same settings as
	// media.s3; one bucket may hold both under different prefixes.
	S3 S3Config `yaml:"s3"`
}

// ReportsDir is the reports directory, defaulted.
func (c *Config) ReportsDir() string {
	if c.Reports.Dir != "" {
		return c.Reports.Dir
	}
	return filepath.Join(c.StateDir, "reports")
}
