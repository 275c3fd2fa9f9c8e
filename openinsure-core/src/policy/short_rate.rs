//! The short-rate table: what share of a term's premium a cancellation by the insured earns,
//! as data ([`SHORT_RATE_TABLE`]) and one lookup ([`short_rate_earned_percent`]).

use crate::money::Rounding;

/// The customary one-year short-rate table: `(last day in force, percent of the annual premium
/// earned)`. A cancellation after `d` days in force earns the percent of the first row whose day
/// is at least `d`: 1 day 5%, 2 days 6%, 3-4 days 7%, ..., 30-32 days 19% (one month), 59-62
/// days 27% (two months), 88-91 days 35%, 179-182 days 60% (six months), 270-273 days 80%
/// (nine months), 361-365 days 100%. One row per percentage point from 5% to 100%.
#[rustfmt::skip]
pub const SHORT_RATE_TABLE: [(u16, u8); 96] = [
    (1, 5), (2, 6), (4, 7), (6, 8), (8, 9), (10, 10), (12, 11), (14, 12),
    (16, 13), (18, 14), (20, 15), (22, 16), (25, 17), (29, 18), (32, 19), (36, 20),
    (40, 21), (43, 22), (47, 23), (51, 24), (54, 25), (58, 26), (62, 27), (65, 28),
    (69, 29), (73, 30), (76, 31), (80, 32), (83, 33), (87, 34), (91, 35), (94, 36),
    (98, 37), (102, 38), (105, 39), (109, 40), (113, 41), (116, 42), (120, 43), (124, 44),
    (127, 45), (131, 46), (135, 47), (138, 48), (142, 49), (146, 50), (149, 51), (153, 52),
    (156, 53), (160, 54), (164, 55), (167, 56), (171, 57), (175, 58), (178, 59), (182, 60),
    (187, 61), (191, 62), (196, 63), (200, 64), (205, 65), (209, 66), (214, 67), (218, 68),
    (223, 69), (228, 70), (232, 71), (237, 72), (241, 73), (246, 74), (250, 75), (255, 76),
    (260, 77), (264, 78), (269, 79), (273, 80), (278, 81), (282, 82), (287, 83), (291, 84),
    (296, 85), (301, 86), (305, 87), (310, 88), (314, 89), (319, 90), (323, 91), (328, 92),
    (332, 93), (337, 94), (342, 95), (346, 96), (351, 97), (355, 98), (360, 99), (365, 100),
];

/// The percent of the term's premium earned after `days_in_force` days of a `days_in_term`-day
/// term, by [`SHORT_RATE_TABLE`].
///
/// The table is for a 365-day year; any other term (a leap year's 366 days, a six-month or a
/// multi-year term) is scaled to it: the table is read at `ceil(days_in_force * 365 /
/// days_in_term)` days (a part of a day counts as a day), clamped to 1..=365. So a 181-day term earns
/// 60% at 90 days in force (scaled to 182), a three-year term 44% after its first year (scaled to 122).
/// Returns 100 when `days_in_term` is not positive.
pub fn short_rate_earned_percent(days_in_force: i64, days_in_term: i64) -> u8 {
    if days_in_term <= 0 {
        return 100;
    }
    let scaled = Rounding::Up.div_round(i128::from(days_in_force) * 365, i128::from(days_in_term)).clamp(1, 365);
    SHORT_RATE_TABLE.iter().find(|(day, _)| i128::from(*day) >= scaled).map_or(100, |(_, percent)| *percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_rate_table_shape() {
        assert_eq!(SHORT_RATE_TABLE[0], (1, 5));
        assert_eq!(SHORT_RATE_TABLE[SHORT_RATE_TABLE.len() - 1], (365, 100));
        for w in SHORT_RATE_TABLE.windows(2) {
            assert!(w[0].0 < w[1].0);
            assert_eq!(w[0].1 + 1, w[1].1);
        }
        // The monthly anchors of the classic table.
        let by_month: Vec<u8> = [32, 62, 91, 122, 153, 182, 213, 244, 273, 304, 335, 365]
            .iter()
            .map(|d| short_rate_earned_percent(*d, 365))
            .collect();
        assert_eq!(by_month, vec![19, 27, 35, 44, 52, 60, 67, 74, 80, 87, 94, 100]);
        assert_eq!(short_rate_earned_percent(0, 365), 5, "less than a day counts as one");
        // A 366-day term: ceil(360 * 365 / 366) = 360 -> 99%, ceil(361 * 365 / 366) = 361 -> 100%.
        assert_eq!(short_rate_earned_percent(360, 366), 99);
        assert_eq!(short_rate_earned_percent(361, 366), 100);
        // A 181-day term at 90 days: ceil(90 * 365 / 181) = ceil(181.49) = 182 -> 60%.
        assert_eq!(short_rate_earned_percent(90, 181), 60);
        // A three-year term at 365 days: ceil(365 * 365 / 1095) = 122 -> 44%.
        assert_eq!(short_rate_earned_percent(365, 1095), 44);
        assert_eq!(short_rate_earned_percent(10, 0), 100);
    }
}
