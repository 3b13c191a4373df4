package ui

import (
	"strconv"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Fixed screen texts, French first. Passengers of a Monaco building read
// any of the three, so overlays show all configured languages at once.
var (
	textConnecting = [3]string{"Connexion à l'ascenseur…", "Connecting to the lift…", "Connessione all'ascensore…"}
	// The alarm's wording says only what is true (wire.State.AlarmProgress):
	// the cabin has it; the monitoring centre has it; a person answered.
	textAlarmRegistered   = [3]string{"Alarme enregistrée, transmission en cours", "Alarm registered, being sent", "Allarme registrato, invio in corso"}
	textAlarmDelivered    = [3]string{"Alarme reçue par le centre de surveillance", "Alarm received by the monitoring centre", "Allarme ricevuto dal centro di controllo"}
	textAlarmAcknowledged = [3]string{"Un opérateur a pris votre appel, les secours arrivent", "An operator has your call, help is on the way", "Un operatore ha preso la chiamata, i soccorsi arrivano"}
	textInspection        = [3]string{"Ascenseur en maintenance", "Lift under maintenance", "Ascensore in manutenzione"}
	textFire              = [3]string{"Service incendie : réservé aux pompiers", "Fire service: firefighters only", "Servizio antincendio: riservato ai vigili del fuoco"}
	textOutOfSvc          = [3]string{"Ascenseur hors service", "Lift out of service", "Ascensore fuori servizio"}
	textOverload          = [3]string{"Surcharge : merci d'alléger la cabine", "Overload: please reduce the load", "Sovraccarico: alleggerire la cabina"}
)

var categoryNames = map[string][3]string{
	wire.CategoryWorks:    {"Travaux", "Works", "Lavori"},
	wire.CategoryWater:    {"Eau", "Water", "Acqua"},
	wire.CategoryAssembly: {"Assemblée", "Meeting", "Assemblea"},
	wire.CategoryCleaning: {"Nettoyage", "Cleaning", "Pulizie"},
	wire.CategoryGeneral:  {"Information", "Information", "Informazione"},
}

var (
	weekdays = [3][7]string{
		{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
		{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		{"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"},
	}
	months = [3][12]string{
		{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
	}
)

func langIndex(lang string) int {
	switch lang {
	case wire.LangEN:
		return 1
	case wire.LangIT:
		return 2
	}
	return 0
}

// formatDate writes a date the way each language does: "mardi 24 novembre
// 2026", "Tuesday 24 November 2026", "martedì 24 novembre 2026".
func formatDate(t time.Time, lang string) string {
	i := langIndex(lang)
	return weekdays[i][t.Weekday()] + " " + strconv.Itoa(t.Day()) + " " + months[i][t.Month()-1] + " " + strconv.Itoa(t.Year())
}
