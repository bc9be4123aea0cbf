//! Dialing plans: per-country calling codes, trunk and international prefixes, number lengths.

/// Dialing data for one country.
pub struct PhoneCountry {
    /// ISO 3166-1 alpha-2, lowercase.
    pub iso: &'static str,
    /// Country calling code, digits only.
    pub cc: &'static str,
    /// National trunk prefix dropped after the country code ("0" in most of Europe/Asia,
    /// "1" in NANP, "8" in Russia/Kazakhstan, "06" in Hungary, "" where there is none or
    /// where the leading 0 is part of the number, as in Italy).
    pub trunk: &'static str,
    /// International call prefix other than the universal "00" (e.g. "011" in NANP).
    pub intl: &'static str,
    /// Range of the national significant number length (digits after the country code).
    pub min: u8,
    pub max: u8,
}

const fn pc(
    iso: &'static str,
    cc: &'static str,
    trunk: &'static str,
    intl: &'static str,
    min: u8,
    max: u8,
) -> PhoneCountry {
    PhoneCountry {
        iso,
        cc,
        trunk,
        intl,
        min,
        max,
    }
}

/// Dialing data: ISO, calling code, trunk prefix, international prefix (besides "00"), national
/// significant number length range. Lengths are deliberately generous (from ITU national
/// numbering plans / libphonenumber metadata); they only catch clearly wrong input.
pub static PHONE_COUNTRIES: &[PhoneCountry] = &[
    // North American Numbering Plan
    pc("us", "1", "1", "011", 10, 10),
    pc("ca", "1", "1", "011", 10, 10),
    pc("pr", "1", "1", "011", 10, 10),
    pc("do", "1", "1", "011", 10, 10),
    pc("jm", "1", "1", "011", 10, 10),
    pc("tt", "1", "1", "011", 10, 10),
    // Europe
    pc("gb", "44", "0", "", 7, 10),
    pc("ie", "353", "0", "", 7, 10),
    pc("de", "49", "0", "", 6, 13),
    pc("at", "43", "0", "", 4, 13),
    pc("ch", "41", "0", "", 9, 12),
    pc("fr", "33", "0", "", 9, 9),
    pc("be", "32", "0", "", 8, 9),
    pc("nl", "31", "0", "", 8, 10),
    pc("lu", "352", "", "", 4, 11),
    pc("es", "34", "", "", 9, 9),
    pc("pt", "351", "", "", 9, 9),
    pc("it", "39", "", "", 6, 11),
    pc("sm", "378", "", "", 6, 10),
    pc("gr", "30", "", "", 10, 10),
    pc("mt", "356", "", "", 8, 8),
    pc("cy", "357", "", "", 8, 8),
    pc("dk", "45", "", "", 8, 8),
    pc("no", "47", "", "", 5, 8),
    pc("se", "46", "0", "", 6, 10),
    pc("fi", "358", "0", "", 5, 12),
    pc("is", "354", "", "", 7, 9),
    pc("pl", "48", "", "", 9, 9),
    pc("cz", "420", "", "", 9, 9),
    pc("sk", "421", "0", "", 9, 9),
    pc("hu", "36", "06", "", 8, 9),
    pc("ro", "40", "0", "", 9, 9),
    pc("bg", "359", "0", "", 6, 9),
    pc("hr", "385", "0", "", 6, 9),
    pc("si", "386", "0", "", 8, 8),
    pc("rs", "381", "0", "", 6, 12),
    pc("ee", "372", "", "", 7, 8),
    pc("lv", "371", "", "", 8, 8),
    pc("ua", "380", "0", "", 9, 9),
    pc("ru", "7", "8", "810", 10, 10),
    pc("kz", "7", "8", "810", 10, 10),
    pc("tr", "90", "0", "", 10, 10),
    // Middle East and Africa
    pc("il", "972", "0", "", 8, 9),
    pc("ae", "971", "0", "", 8, 9),
    pc("sa", "966", "0", "", 8, 9),
    pc("qa", "974", "", "", 7, 8),
    pc("kw", "965", "", "", 7, 8),
    pc("bh", "973", "", "", 8, 8),
    pc("jo", "962", "0", "", 8, 9),
    pc("lb", "961", "0", "", 7, 8),
    pc("eg", "20", "0", "", 8, 10),
    pc("ma", "212", "0", "", 9, 9),
    pc("dz", "213", "0", "", 8, 9),
    pc("tn", "216", "", "", 8, 8),
    pc("ng", "234", "0", "", 8, 10),
    pc("gh", "233", "0", "", 9, 9),
    pc("ke", "254", "0", "", 9, 9),
    pc("za", "27", "0", "", 9, 9),
    pc("ci", "225", "", "", 10, 10),
    pc("cg", "242", "", "", 9, 9),
    // Asia and Oceania
    pc("in", "91", "0", "", 10, 10),
    pc("pk", "92", "0", "", 8, 11),
    pc("bd", "880", "0", "", 8, 10),
    pc("lk", "94", "0", "", 9, 9),
    pc("np", "977", "0", "", 8, 10),
    pc("cn", "86", "0", "", 8, 11),
    pc("hk", "852", "", "", 8, 8),
    pc("mo", "853", "", "", 8, 8),
    pc("tw", "886", "0", "", 8, 9),
    pc("jp", "81", "0", "010", 9, 10),
    pc("kr", "82", "0", "001", 8, 10),
    pc("sg", "65", "", "", 8, 8),
    pc("my", "60", "0", "", 8, 10),
    pc("th", "66", "0", "", 8, 9),
    pc("vn", "84", "0", "", 9, 10),
    pc("ph", "63", "0", "", 8, 10),
    pc("id", "62", "0", "", 8, 12),
    pc("au", "61", "0", "0011", 9, 9),
    pc("nz", "64", "0", "", 8, 10),
    // Latin America
    pc("br", "55", "0", "", 10, 11),
    pc("mx", "52", "", "", 10, 10),
    pc("ar", "54", "0", "", 10, 11),
    pc("cl", "56", "", "", 9, 9),
    pc("co", "57", "", "", 8, 10),
    pc("pe", "51", "0", "", 8, 9),
    pc("ve", "58", "0", "", 10, 10),
    pc("ec", "593", "0", "", 8, 9),
    pc("uy", "598", "0", "", 8, 8),
    pc("py", "595", "0", "", 9, 9),
    pc("bo", "591", "0", "", 8, 8),
    pc("cr", "506", "", "", 8, 8),
    pc("pa", "507", "", "", 7, 8),
    pc("gt", "502", "", "", 8, 8),
    pc("sv", "503", "", "", 8, 8),
    pc("hn", "504", "", "", 8, 8),
];

/// Assigned geographic country calling codes (ITU-T E.164), sorted. Prefix-free.
pub static CALLING_CODES: &[u16] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 379, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505,
    506, 507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675,
    676, 677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 850, 852, 853,
    855, 856, 880, 886, 960, 961, 962, 963, 964, 965, 966, 967, 968, 970, 971, 972, 973, 974, 975,
    976, 977, 992, 993, 994, 995, 996, 998,
];
