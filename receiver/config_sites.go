package receiver

import (
	"path/filepath"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/receiver/report"
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
	}
}

// validateReports checks the reports directory.
func (c *Config) validateReports(p *configfile.Problems) {
	if d := c.Reports.Dir; d != "" && !filepath.IsAbs(d) {
		p.Add("reports.dir", "%q is relative (want an absolute path)", d)
	}
}

// SiteEnergy returns a site's energy parameters, or nil when it has none.
func (c *Config) SiteEnergy(site string) *report.Energy {
	if s, ok := c.Sites[site]; ok && s.Energy != nil {
		e := *s.Energy
		return &e
	}
	return nil
}

// ReportsConfig says where the monthly report job writes its PDFs and
// the API serves them from.
type ReportsConfig struct {
	// Dir holds {site}/{YYYY-MM}.{lang}.pdf; default StateDir/reports.
	Dir string `yaml:"dir"`
}

// ReportsDir is the reports directory, defaulted.
func (c *Config) ReportsDir() string {
	if c.Reports.Dir != "" {
		return c.Reports.Dir
	}
	return filepath.Join(c.StateDir, "reports")
}
