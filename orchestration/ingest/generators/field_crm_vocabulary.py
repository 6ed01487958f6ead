"""The field-service CRM's vocabulary: every spelling of a sales person, branch and lead source the generator
draws (staging must fold each back into one name), and the people's names and e-mail domains of customers."""

from __future__ import annotations

SALES_PERSON_VARIANTS: dict[str, tuple[str, ...]] = {
    "Jörg Müller": ("Jörg Müller", "MÜLLER, JÖRG", "Joerg Mueller", "J. Müller"),
    "Anna Schmidt": ("Anna Schmidt", "Schmidt, Anna", " anna  schmidt", "A. Schmidt"),
    "Lukas Becker": ("Lukas Becker", "lukas becker ", "Becker, Lukas"),
    "Mehmet Yilmaz": ("Mehmet Yilmaz", "YILMAZ, MEHMET", "M. Yilmaz"),
    "Marie Dubois": ("Marie Dubois", "DUBOIS, Marie", "marie  dubois", "M. Dubois"),
    "Julien Moreau": ("Julien Moreau", "Moreau, Julien", "J. Moreau"),
    "Camille Laurent": ("Camille Laurent", "CAMILLE LAURENT", "Laurent, Camille"),
    "Hélène Petit": ("Hélène Petit", "PETIT, HÉLÈNE", "Helene Petit"),
    "John Smith": ("John Smith", " john  smith", "SMITH, JOHN", "J. Smith"),
    "Emily Clarke": ("Emily Clarke", "Clarke, Emily", "E Clarke"),
    "Michael O'Connor": ("Michael O'Connor", "O'CONNOR, MICHAEL", "michael oconnor", "M. O'Connor"),
    "Sarah Johnson": ("Sarah Johnson", "Sarah Johnson ", "Johnson, Sarah", "S. Johnson"),
}
BRANCH_VARIANTS: dict[str, tuple[str, ...]] = {
    "Berlin Mitte": ("Berlin Mitte", "berlin-mitte", "BERLIN MITTE ", "Berlin  Mitte"),
    "Hamburg Altona": ("Hamburg Altona", "hamburg_altona", "HH Altona"),
    "Paris Nord": ("Paris Nord", "paris nord", "PARIS-NORD"),
    "Lyon Centre": ("Lyon Centre", "lyon centre ", "Lyon Center"),
    "London East": ("London East", "LONDON  EAST", "Ldn East"),
    "Boston Metro": ("Boston Metro", "boston-metro", "Boston Metro "),
}
# "AdWords" is the legacy label a few old imports still carry: ~1 lead in 2,000, outside the spelling draw.
RARE_SOURCE = "AdWords"
LEAD_SOURCE_VARIANTS: dict[str, tuple[str, ...]] = {
    "Google Ads": ("Google Ads", "google_ads", "GoogleAds", "GOOGLE ADS", RARE_SOURCE),
    "Facebook Ads": ("Facebook Ads", "facebook-ads", "FB Ads"),
    "Referral": ("Referral", "referal", "REFERRAL "),
    "Website": ("Website", "website", "Web Site"),
    "Partner Portal": ("Partner Portal", "partner_portal", "PARTNER PORTAL"),
    "Walk-in": ("Walk-in", "walk in", "WALK-IN"),
}
CANONICAL_SALES_PEOPLE: tuple[str, ...] = tuple(SALES_PERSON_VARIANTS)
CANONICAL_BRANCHES: tuple[str, ...] = tuple(BRANCH_VARIANTS)
CANONICAL_LEAD_SOURCES: tuple[str, ...] = tuple(LEAD_SOURCE_VARIANTS)
FIRST_NAMES = (
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Karim",
    "Laura",
    "Mia",
    "Noah",
    "Olivia",
    "Paul",
    "Rosa",
    "Sven",
    "Tom",
    "Zoe",
)
LAST_NAMES = (
    "Bauer",
    "Bernard",
    "Carter",
    "Fischer",
    "Garcia",
    "Hoffmann",
    "Klein",
    "Lefevre",
    "Martin",
    "Meyer",
    "Nguyen",
    "Patel",
    "Roux",
    "Schulz",
    "Taylor",
    "Wagner",
    "Walker",
    "Weber",
    "Wilson",
)
EMAIL_DOMAINS = ("gmail.com", "web.de", "gmx.de", "orange.fr", "outlook.com", "yahoo.com", "hotmail.co.uk")
