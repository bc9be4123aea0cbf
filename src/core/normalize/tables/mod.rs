//! The data behind the field rules, one file per table family. Keys are folded the way
//! `latin::fold_key` folds input (lowercase, diacritics folded, letters only), and tables searched
//! by binary search are sorted by key; the tests below hold every table to that.

pub mod country_names;
pub mod dates;
pub mod genders;
pub mod iso_countries;
pub mod latin_compose;
pub mod latin_folds;
pub mod phone_plans;
pub mod regions;

#[cfg(test)]
mod tests {
    use super::country_names::COUNTRY_NAMES;
    use super::dates::MONTHS;
    use super::genders::GENDERS;
    use super::iso_countries::ISO_COUNTRIES;
    use super::latin_compose::LATIN_COMPOSE;
    use super::latin_folds::LATIN_FOLD;
    use super::phone_plans::{CALLING_CODES, PHONE_COUNTRIES};
    use super::regions::{CA_CODES, CA_PROVINCES, US_CODES, US_STATES};
    use crate::core::normalize::latin::fold_key;

    #[test]
    fn tables_are_sorted_and_consistent() {
        assert!(LATIN_FOLD.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(LATIN_COMPOSE
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        assert_eq!(ISO_COUNTRIES.len(), 249);
        assert!(ISO_COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(COUNTRY_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        let is_iso = |c: &str| ISO_COUNTRIES.iter().any(|(a2, _)| *a2 == c);
        for (key, code) in COUNTRY_NAMES {
            assert_eq!(fold_key(key), *key, "country key not folded");
            assert!(is_iso(code), "{code}");
        }
        assert!(CALLING_CODES.windows(2).all(|w| w[0] < w[1]));
        // Prefix-free: no code is a prefix of another.
        for a in CALLING_CODES {
            for b in CALLING_CODES {
                let (a, b) = (a.to_string(), b.to_string());
                assert!(a == b || !b.starts_with(&a), "{a} prefixes {b}");
            }
        }
        for p in PHONE_COUNTRIES {
            assert!(is_iso(p.iso), "{}", p.iso);
            let cc: u16 = p.cc.parse().unwrap();
            assert!(CALLING_CODES.binary_search(&cc).is_ok(), "{}", p.cc);
            assert!(
                p.min <= p.max && p.max as usize + p.cc.len() <= 15,
                "{}",
                p.iso
            );
        }
        for (key, code) in US_STATES {
            assert_eq!(fold_key(key), *key);
            assert!(US_CODES.contains(code), "{code}");
        }
        for (key, code) in CA_PROVINCES {
            assert_eq!(fold_key(key), *key);
            assert!(CA_CODES.contains(code), "{code}");
        }
        for (key, _) in GENDERS {
            assert_eq!(fold_key(key), *key);
        }
        for (key, _) in MONTHS {
            assert_eq!(fold_key(key), *key);
        }
        for (i, (k, _)) in GENDERS.iter().enumerate() {
            assert!(
                GENDERS[i + 1..].iter().all(|(k2, _)| k2 != k),
                "duplicate {k}"
            );
        }
        for (i, (k, _)) in MONTHS.iter().enumerate() {
            assert!(
                MONTHS[i + 1..].iter().all(|(k2, _)| k2 != k),
                "duplicate {k}"
            );
        }
    }
}
