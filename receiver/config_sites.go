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
	// Cabins: settings of cabins that differ from the site's, by cabin id.
	Cabins map[string]CabinSiteConfig `yaml:"cabins"`
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
	}
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
