package ui

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/palier-lifts/palier/wire"
)

// Config is the display's configuration file (packaging/display.yaml).
type Config struct {
	// Building is the name shown at the top of the screen.
	Building string `yaml:"building"`
	// FloorLabels maps a controller floor number to what passengers read,
	// e.g. 0: RDC, -2: P. Floors not listed show their number.
	FloorLabels map[int]string `yaml:"floor_labels"`
	// TimeZone is an IANA zone name for the clock (default Europe/Monaco).
	TimeZone string `yaml:"time_zone"`
	// Layout is the logical resolution: 800x480, 1024x600, 1280x800 or 1920x1080.
	Layout string `yaml:"layout"`
	// Orientation is landscape or portrait (the layout's sides swapped).
	Orientation string `yaml:"orientation"`
	// Languages in rotation order, among fr, en, it (default all three).
	Languages []string `yaml:"languages"`
	// LanguagePeriod is how long each language stays on screen; a notice
	// stays for one period per language (default 6s).
	LanguagePeriod time.Duration `yaml:"language_period"`
	// Night, if set, dims the palette between two times of day.
	Night *Night `yaml:"night"`
	// PixelShift is the largest burn-in shift in logical pixels (0 disables,
	// default 3); the picture moves one step every ShiftPeriod.
	PixelShift  *int          `yaml:"pixel_shift"`
	ShiftPeriod time.Duration `yaml:"shift_period"`
	// Fullscreen starts the window fullscreen and hides the cursor (kiosk).
	Fullscreen bool `yaml:"fullscreen"`
	// ShowConnectivity draws the installers' connectivity mark (default true).
	ShowConnectivity *bool `yaml:"show_connectivity"`
}

// Night is a daily window, "HH:MM" to "HH:MM" in the configured time zone;
// it may span midnight.
type Night struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Layouts the screen knows, in logical units (landscape).
var layouts = map[string][2]int{
	"800x480":   {800, 480},
	"1024x600":  {1024, 600},
	"1280x800":  {1280, 800},
	"1920x1080": {1920, 1080},
}

// DefaultConfig returns the configuration used when no file is given.
func DefaultConfig() Config {
	return Config{
		TimeZone:       "Europe/Monaco",
		Layout:         "800x480",
		Orientation:    "landscape",
		Languages:      []string{wire.LangFR, wire.LangEN, wire.LangIT},
		LanguagePeriod: 6 * time.Second,
		ShiftPeriod:    5 * time.Minute,
	}
}

// ParseConfig reads a YAML configuration over the defaults. Unknown keys are
// errors, so a typo is reported instead of silently ignored.
func ParseConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return cfg, fmt.Errorf("read display config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("parse display config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// ConfigError names the configuration field that is wrong.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "display config: " + e.Field + ": " + e.Reason }

// Validate checks every field and says what would be valid.
func (c *Config) Validate() error {
	if len([]rune(c.Building)) > 80 {
		return &ConfigError{"building", "longer than 80 characters"}
	}
	for f, l := range c.FloorLabels {
		if n := len([]rune(l)); n == 0 || n > 4 {
			return &ConfigError{fmt.Sprintf("floor_labels[%d]", f), fmt.Sprintf("%q: want 1 to 4 characters", l)}
		}
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		return &ConfigError{"time_zone", fmt.Sprintf("%q is not an IANA time zone (e.g. Europe/Monaco)", c.TimeZone)}
	}
	if _, ok := layouts[c.Layout]; !ok {
		return &ConfigError{"layout", fmt.Sprintf("%q: want 800x480, 1024x600, 1280x800 or 1920x1080", c.Layout)}
	}
	if c.Orientation != "landscape" && c.Orientation != "portrait" {
		return &ConfigError{"orientation", fmt.Sprintf("%q: want landscape or portrait", c.Orientation)}
	}
	if len(c.Languages) == 0 {
		return &ConfigError{"languages", "empty: want one or more of fr, en, it"}
	}
	seen := map[string]bool{}
	for _, l := range c.Languages {
		if l != wire.LangFR && l != wire.LangEN && l != wire.LangIT {
			return &ConfigError{"languages", fmt.Sprintf("%q: want fr, en or it", l)}
		}
		if seen[l] {
			return &ConfigError{"languages", fmt.Sprintf("%q listed twice", l)}
		}
		seen[l] = true
	}
	if c.LanguagePeriod < time.Second {
		return &ConfigError{"language_period", fmt.Sprintf("%s: want at least 1s", c.LanguagePeriod)}
	}
	if c.Night != nil {
		if _, err := parseHHMM(c.Night.From); err != nil {
			return &ConfigError{"night.from", err.Error()}
		}
		if _, err := parseHHMM(c.Night.To); err != nil {
			return &ConfigError{"night.to", err.Error()}
		}
	}
	if c.PixelShift != nil && (*c.PixelShift < 0 || *c.PixelShift > 16) {
		return &ConfigError{"pixel_shift", fmt.Sprintf("%d: want 0 to 16 logical pixels", *c.PixelShift)}
	}
	if c.ShiftPeriod < time.Second {
		return &ConfigError{"shift_period", fmt.Sprintf("%s: want at least 1s", c.ShiftPeriod)}
	}
	return nil
}

// Size returns the logical width and height, orientation applied.
func (c *Config) Size() (w, h int) {
	wh, ok := layouts[c.Layout]
	if !ok {
		wh = layouts["800x480"]
	}
	if c.Orientation == "portrait" {
		return wh[1], wh[0]
	}
	return wh[0], wh[1]
}

// parseHHMM returns minutes since midnight.
func parseHHMM(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("%q: want HH:MM, e.g. 22:30", s)
	}
	return hh*60 + mm, nil
}
