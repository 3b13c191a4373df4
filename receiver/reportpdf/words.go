package reportpdf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// words are a language's texts of the report.
type words struct {
	title, period, made, timeZone                     string
	cabin, availability, notMonitored, monitored      string
	unavailable, outOfService, entrapment, offline    string
	linkLost, trips, perDay, busiestDay, doorCycles   string
	faults, faultTime, stillActive, entrapments       string
	alarms, acknowledged, medianAck, maxAck, neverAck string
	energy, standby, running, noEnergy, energyBasis   string
	energyParams                                      string
	noticesShown, noticesUnavailable, notice, shown   string
	tripsPerDayChart, page, none, total, code         string
	truncated, ackAfter                               string
	months                                            [12]string
	day                                               string // the unit of days in durations
	decimal, thousands                                string
}

var languages = map[string]words{
	"fr": {
		title: "Rapport mensuel des ascenseurs", period: "Période : du %s au %s", made: "Établi le %s", timeZone: "fuseau horaire %s",
		cabin: "Cabine %s", availability: "Disponibilité", notMonitored: "non surveillée sur la période", monitored: "temps surveillé",
		unavailable: "Indisponibilité", outOfService: "hors service", entrapment: "personne bloquée", offline: "boîtier hors ligne",
		linkLost: "liaison avec l'armoire perdue", trips: "Trajets", perDay: "%s par jour en moyenne", busiestDay: "jour le plus chargé : %s (%d)",
		doorCycles: "Cycles de porte", faults: "Pannes signalées", faultTime: "durée cumulée %s", stillActive: "en cours à la fin du mois",
		entrapments: "Personnes bloquées", alarms: "Alarmes (bouton d'appel)", acknowledged: "prises en compte : %d",
		medianAck: "délai médian de prise en compte %s", maxAck: "délai maximal %s", neverAck: "jamais prise en compte",
		energy: "Énergie estimée", standby: "veille %s", running: "déplacements %s", noEnergy: "non estimée : aucun paramètre d'énergie pour ce site",
		energyBasis: "Estimation, non une mesure au compteur : selon la méthode de la norme ISO 25745-2, puissance de veille × temps surveillé hors trajets, " +
			"plus par trajet l'énergie d'un trajet d'un étage et de chaque étage supplémentaire parcouru, d'après les paramètres réglés pour " +
			"chaque cabine (indiqués avec son estimation). Le temps non surveillé n'est pas compté.",
		energyParams: "paramètres : veille %s W, trajet %s Wh, étage supplémentaire %s Wh",
		noticesShown: "Avis affichés sur les écrans", noticesUnavailable: "Pas encore disponible : la preuve d'affichage n'est pas encore enregistrée.",
		notice: "avis", shown: "affiché %d fois, %s", tripsPerDayChart: "Trajets par jour", page: "Page %d / %s", none: "aucune", total: "total", code: "code",
		ackAfter:  "prise en compte après %s",
		truncated: "Liste incomplète : plus d'alarmes que le receveur n'en lit en une fois.",
		months:    [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		day:       "j", decimal: ",", thousands: " ",
	},
	"en": {
		title: "Monthly lift report", period: "Period: %s to %s", made: "Made on %s", timeZone: "time zone %s",
		cabin: "Cabin %s", availability: "Availability", notMonitored: "not monitored over the period", monitored: "time monitored",
		unavailable: "Unavailable", outOfService: "out of service", entrapment: "passenger trapped", offline: "box offline",
		linkLost: "link to the controller lost", trips: "Trips", perDay: "%s a day on average", busiestDay: "busiest day: %s (%d)",
		doorCycles: "Door cycles", faults: "Faults reported", faultTime: "total duration %s", stillActive: "still active at the end of the month",
		entrapments: "Passengers trapped", alarms: "Alarms (call button)", acknowledged: "acknowledged: %d",
		medianAck: "median time to acknowledge %s", maxAck: "longest %s", neverAck: "never acknowledged",
		energy: "Estimated energy", standby: "standby %s", running: "trips %s", noEnergy: "not estimated: no energy parameters for this site",
		energyBasis: "An estimate, not a meter reading: in the manner of ISO 25745-2, standby power × the monitored time not spent in trips, " +
			"plus per trip the energy of a one-floor trip and of each further floor travelled, from the parameters set for " +
			"each cabin (given with its estimate). Time not monitored is not counted.",
		energyParams: "parameters: standby %s W, trip %s Wh, further floor %s Wh",
		noticesShown: "Notices shown on the screens", noticesUnavailable: "Not yet available: proof of play is not recorded yet.",
		notice: "notice", shown: "shown %d times, %s", tripsPerDayChart: "Trips per day", page: "Page %d of %s", none: "none", total: "total", code: "code",
		ackAfter:  "acknowledged after %s",
		truncated: "List incomplete: more alarms than the receiver reads at once.",
		months:    [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		day:       "d", decimal: ".", thousands: ",",
	},
	"it": {
		title: "Rapporto mensile degli ascensori", period: "Periodo: dal %s al %s", made: "Redatto il %s", timeZone: "fuso orario %s",
		cabin: "Cabina %s", availability: "Disponibilità", notMonitored: "non monitorata nel periodo", monitored: "tempo monitorato",
		unavailable: "Indisponibilità", outOfService: "fuori servizio", entrapment: "persona bloccata", offline: "dispositivo non in linea",
		linkLost: "collegamento con il quadro perso", trips: "Corse", perDay: "%s al giorno in media", busiestDay: "giorno più intenso: %s (%d)",
		doorCycles: "Cicli porte", faults: "Guasti segnalati", faultTime: "durata complessiva %s", stillActive: "ancora in corso a fine mese",
		entrapments: "Persone bloccate", alarms: "Allarmi (pulsante di chiamata)", acknowledged: "presi in carico: %d",
		medianAck: "tempo mediano di presa in carico %s", maxAck: "tempo massimo %s", neverAck: "mai preso in carico",
		energy: "Energia stimata", standby: "attesa %s", running: "corse %s", noEnergy: "non stimata: nessun parametro energetico per questo sito",
		energyBasis: "Una stima, non una lettura del contatore: secondo il metodo della norma ISO 25745-2, potenza in attesa × tempo monitorato fuori dalle corse, " +
			"più per corsa l'energia di una corsa di un piano e di ogni piano ulteriore percorso, dai parametri impostati per " +
			"ogni cabina (indicati con la sua stima). Il tempo non monitorato non è contato.",
		energyParams: "parametri: attesa %s W, corsa %s Wh, piano ulteriore %s Wh",
		noticesShown: "Avvisi mostrati sugli schermi", noticesUnavailable: "Non ancora disponibile: la prova di visualizzazione non è ancora registrata.",
		notice: "avviso", shown: "mostrato %d volte, %s", tripsPerDayChart: "Corse al giorno", page: "Pagina %d di %s", none: "nessuno", total: "totale", code: "codice",
		ackAfter:  "preso in carico dopo %s",
		truncated: "Elenco incompleto: più allarmi di quanti il ricevitore ne legga in una volta.",
		months:    [12]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
		day:       "g", decimal: ",", thousands: ".",
	},
}

// num writes x with decimals digits after the language's decimal mark
// and its thousands separator.
func (w words) num(x float64, decimals int) string {
	s := strconv.FormatFloat(math.Abs(x), 'f', decimals, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if x < 0 && s != strconv.FormatFloat(0, 'f', decimals, 64) {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(w.thousands)
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString(w.decimal + frac)
	}
	return b.String()
}

// percent writes a share (0..1) as a percentage with one decimal.
func (w words) percent(x float64) string { return w.num(x*100, 1) + " %" }

// dur writes a duration in its two largest units: 3 j 4 h, 2 h 20 min,
// 1 min 30 s.
func (w words) dur(seconds float64) string {
	s := int64(math.Round(seconds))
	d, h, m, sec := s/86400, s%86400/3600, s%3600/60, s%60
	switch {
	case d > 0:
		return fmt.Sprintf("%d %s %d h", d, w.day, h)
	case h > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case m > 0:
		return fmt.Sprintf("%d min %d s", m, sec)
	}
	return fmt.Sprintf("%d s", sec)
}

// date writes a day as the language does: 1 novembre 2026.
func (w words) date(t time.Time) string {
	return fmt.Sprintf("%d %s %d", t.Day(), w.months[t.Month()-1], t.Year())
}

// dateTime writes a day and a time of day.
func (w words) dateTime(t time.Time) string { return w.date(t) + " " + t.Format("15:04") }

// month writes a month: novembre 2026.
func (w words) month(t time.Time) string { return w.months[t.Month()-1] + " " + strconv.Itoa(t.Year()) }
