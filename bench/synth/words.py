"""Vocabulary of the synthetic internet: German event titles, places, descriptions.

Modelled on what the Thuringian networks publish (``../shared/networks.md``):
workshops, forums, Stammtische, member assemblies, trade-fair stands, in the
usual venues of Erfurt, Jena, Weimar, Ilmenau and the smaller towns. Nothing
here is a real event.
"""

from __future__ import annotations

# (topic, abbreviation for network names)
TOPICS = [
    ("Photonik", "Pho"), ("Optik", "Opt"), ("Medizintechnik", "Med"), ("Maschinenbau", "Mab"),
    ("Kunststofftechnik", "Kun"), ("Energieeffizienz", "Enf"), ("Wasserstoff", "Hyd"),
    ("Künstliche Intelligenz", "Kin"), ("Cybersicherheit", "Cys"), ("Elektromobilität", "Emo"),
    ("Mikroelektronik", "Mel"), ("Sensorik", "Sen"), ("Additive Fertigung", "Add"),
    ("Digitalisierung", "Dig"), ("Logistik", "Log"), ("Holzbau", "Hol"), ("Ernährungswirtschaft", "Ern"),
    ("Tourismus", "Tou"), ("Kreislaufwirtschaft", "Kre"), ("Fachkräftesicherung", "Fks"),
    ("Automotive", "Aut"), ("Solarthermie", "Sol"), ("Batterietechnik", "Bat"),
    ("Quantentechnologie", "Qua"), ("Biotechnologie", "Bio"), ("Lasertechnik", "Las"),
    ("Oberflächentechnik", "Obt"), ("Robotik", "Rob"), ("Industrie 4.0", "Ind"), ("Leichtbau", "Lei"),
    ("Keramik", "Ker"), ("Glastechnik", "Gla"), ("Textiltechnik", "Tex"), ("Verpackung", "Ver"),
    ("Agrartechnik", "Agr"), ("Pharmazie", "Pha"), ("Gesundheitswirtschaft", "Ges"), ("Bauwirtschaft", "Bau"),
    ("Smart City", "Smc"), ("Energiespeicher", "Esp"), ("Halbleiter", "Hal"), ("Mikrosystemtechnik", "Mst"),
    ("Umwelttechnik", "Umw"), ("Wassertechnik", "Wat"), ("Recycling", "Rec"), ("Innovationsförderung", "Inf"),
    ("Wissenstransfer", "Wit"), ("Unternehmensgründung", "Gru"), ("Qualitätsmanagement", "Qum"),
    ("Datenschutz", "Dat"), ("Cloud Computing", "Clo"), ("Internet der Dinge", "Iot"),
    ("Präzisionsmesstechnik", "Mes"), ("Bioökonomie", "Bok"), ("Windenergie", "Win"),
    ("Geothermie", "Geo"), ("Nachhaltige Chemie", "Che"), ("Fahrzeugbau", "Fzb"), ("Lebensmitteltechnik", "Leb"),
    ("Druck und Medien", "Drm"), ("Softwareentwicklung", "Sof"), ("Verfahrenstechnik", "Vft"),
]

# What a title says about the topic; each names the angle in words no other one shares,
# so two different events of a day never have titles one inside the other.
ASPECTS = [
    "im Mittelstand", "in der Praxis", "für kleine Unternehmen", "in der Produktion", "in der Medizin",
    "Chancen und Risiken", "Trends und Perspektiven", "Förderprogramme im Überblick", "Erfahrungen aus Pilotprojekten",
    "Ergebnisse aus der Forschung", "Grundlagen für Einsteiger", "Recht und Normung", "Finanzierung und Investition",
    "Personal gewinnen", "Internationale Märkte", "Nachhaltig wirtschaften", "Datenbasierte Geschäftsmodelle",
    "Prozesse automatisieren", "Lieferketten absichern", "Kooperation mit Hochschulen", "Patente und Schutzrechte",
    "Neue Werkstoffe", "Kosten senken", "Zertifizierung leicht gemacht", "Marktzugang China",
    "vom Labor zur Serie", "Fachkräfte von morgen", "Energie sparen im Betrieb", "Qualität sichern",
    "Wege in den Export", "Start-ups treffen Industrie", "Digitale Zwillinge", "Sichere Netzwerke",
    "Ausbildung und Studium", "Frauen in Führung", "Zukunft der Region", "Wertschöpfung steigern",
    "Testfelder und Reallabore", "Kreativität im Team", "Messtechnik im Einsatz",
]

FORMATS = [
    "Workshop", "Webinar", "Online-Seminar", "Fachforum", "Netzwerktreffen", "Vortrag", "Fachtagung",
    "Unternehmerfrühstück", "Praxisdialog", "Expertenrunde", "Innovationsforum", "Barcamp",
    "Kooperationsbörse", "Infoveranstaltung", "Themenabend", "Lunch & Learn",
]
ONLINE_FORMATS = {"Webinar", "Online-Seminar", "Lunch & Learn"}

# Big events with an edition number: "9. Thüringer Photoniktag"
EDITION_PATTERNS = ["{n}. Thüringer {topic}tag", "{n}. {topic}-Kongress Mitteldeutschland", "{topic}-Forum {year}",
                    "{n}. Fachkonferenz {topic}"]

CATEGORIES = ["Workshop", "Seminar", "Konferenz", "Netzwerktreffen", "Messe", "Online", "Stammtisch", "Mitglieder & Gremien"]

# (venue, street, postal code, city)
VENUES = [
    ("COMCENTER Brühl", "Mainzerhofstraße 10", "99084", "Erfurt"),
    ("Messe Erfurt", "Gothaer Straße 34", "99094", "Erfurt"),
    ("IHK Erfurt", "Arnstädter Straße 34", "99096", "Erfurt"),
    ("Kaisersaal Erfurt", "Futterstraße 15/16", "99084", "Erfurt"),
    ("Augustinerkloster", "Augustinerstraße 10", "99084", "Erfurt"),
    ("Technologie- und Innovationspark Jena", "Hans-Knöll-Straße 1", "07745", "Jena"),
    ("Volkshaus Jena", "Carl-Zeiss-Platz 15", "07743", "Jena"),
    ("Ernst-Abbe-Hochschule Jena", "Carl-Zeiss-Promenade 2", "07745", "Jena"),
    ("Wasserwerk Burgau", "Reifsteinweg 20", "07745", "Jena"),
    ("congress centrum neue weimarhalle", "UNESCO-Platz 1", "99423", "Weimar"),
    ("Bauhaus-Universität Weimar", "Geschwister-Scholl-Straße 8", "99423", "Weimar"),
    ("TU Ilmenau, Humboldtbau", "Ehrenbergstraße 29", "98693", "Ilmenau"),
    ("Zentrum für Mikro- und Nanotechnologien", "Gustav-Kirchhoff-Straße 7", "98693", "Ilmenau"),
    ("Kultur- und Kongresszentrum Gera", "Schloßstraße 1", "07545", "Gera"),
    ("Congress Centrum Suhl", "Friedrich-König-Straße 7", "98527", "Suhl"),
    ("Hochschule Nordhausen", "Weinberghof 4", "99734", "Nordhausen"),
    ("Hochschule Schmalkalden", "Blechhammer 9", "98574", "Schmalkalden"),
    ("Fraunhofer IKTS", "Michael-Faraday-Straße 1", "07629", "Hermsdorf"),
    ("Stadthalle Gotha", "Goldbacher Straße 35", "99867", "Gotha"),
    ("Tagungszentrum Eisenach", "Markt 2", "99817", "Eisenach"),
    ("Stadthalle Arnstadt", "Brauhausstraße 1", "99310", "Arnstadt"),
    ("Meininger Hof", "Bernhardstraße 7", "98617", "Meiningen"),
    ("Rathaussaal Mühlhausen", "Ratsstraße 19", "99974", "Mühlhausen"),
    ("Stadthalle Rudolstadt", "Marktstraße 1", "07407", "Rudolstadt"),
    ("Gründerzentrum Sonneberg", "Köppelsdorfer Straße 12", "96515", "Sonneberg"),
    ("Residenzschloss Altenburg", "Schloss 2", "04600", "Altenburg"),
    ("Saalfelder Feengrotten Tagungsraum", "Feengrottenweg 2", "07318", "Saalfeld"),
    ("Innovationszentrum Leipzig", "Deutscher Platz 4", "04103", "Leipzig"),
    ("Messe Dresden", "Messering 6", "01067", "Dresden"),
    ("Technologiepark Halle", "Weinbergweg 23", "06120", "Halle"),
]

DESCRIPTION_SENTENCES = [
    "Expertinnen und Experten aus Wirtschaft und Wissenschaft berichten aus ihrer Arbeit.",
    "Im Anschluss bleibt Zeit für Fragen und den Austausch beim Imbiss.",
    "Die Teilnahme ist für Mitglieder kostenfrei, Gäste sind herzlich willkommen.",
    "Bitte melden Sie sich bis eine Woche vorher über das Formular auf unserer Website an.",
    "Die Veranstaltung richtet sich an Geschäftsführungen, Fachkräfte und Studierende.",
    "Unternehmen aus der Region stellen Lösungen vor, die sich in der Praxis bewährt haben.",
    "Wir laden herzlich zu Impulsvorträgen, einer Podiumsdiskussion und Networking ein.",
    "Die Plätze sind begrenzt; die Anmeldung wird in der Reihenfolge des Eingangs berücksichtigt.",
    "Mit freundlicher Unterstützung des Freistaats Thüringen.",
    "Für das leibliche Wohl ist gesorgt – mit Thüringer Bratwurst und Getränken.",
    "Ein Livestream wird für alle angeboten, die nicht vor Ort sein können.",
    "Das Programm finden Sie in Kürze auf unserer Website.",
]

NAME_FORMS = ["{topic}-Netzwerk {region}", "Cluster {topic} {region}", "{topic} {region} e.V.",
              "Kompetenznetz {topic} {region}", "Verbund {topic} {region}"]
REGIONS = ["Thüringen", "Mittelthüringen", "Ostthüringen", "Südthüringen", "Nordthüringen", "Westthüringen",
           "Saale-Holzland", "Ilm-Kreis", "Wartburgregion", "Eichsfeld", "Rennsteig", "Saaletal", "Erfurt", "Jena",
           "Weimarer Land", "Vogtland", "Kyffhäuser", "Altenburger Land", "Thüringer Wald", "Unstrut-Hainich"]

WEEKDAYS = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
WEEKDAYS_SHORT = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"]
MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
          "November", "Dezember"]
