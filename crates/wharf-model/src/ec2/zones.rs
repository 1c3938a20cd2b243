//! Availability Zones: each region has `a`, `b` and `c` (as every AWS
//! region has at least three), plus any zone a Wharf host reports
//! (`ecs.availability-zone`), so placement and subnets speak of the same
//! zones.

/// The zones every region has, whatever its hosts report.
pub const STANDARD_SUFFIXES: [char; 3] = ['a', 'b', 'c'];

/// The region's zones: the standard three and `reported` ones of this region,
/// sorted, without repeats.
pub fn of_region(region: &str, reported: &[String]) -> Vec<String> {
    let mut zones: Vec<String> = STANDARD_SUFFIXES.iter().map(|s| format!("{region}{s}")).collect();
    for z in reported {
        if is_zone_of(region, z) && !zones.contains(z) {
            zones.push(z.clone());
        }
    }
    zones.sort();
    zones
}

/// Whether `zone` is a zone name of `region` (the region's name and a letter).
pub fn is_zone_of(region: &str, zone: &str) -> bool {
    zone.strip_prefix(region)
        .is_some_and(|rest| rest.len() == 1 && rest.bytes().all(|b| b.is_ascii_lowercase()))
}

/// The zone's id, as AWS names zones across accounts (`use1-az1` for
/// `us-east-1a`).
pub fn zone_id(zone: &str) -> String {
    let Some(letter) = zone.chars().last().filter(char::is_ascii_lowercase) else {
        return zone.to_owned();
    };
    let region = &zone[..zone.len() - 1];
    let mut parts = region.split('-');
    let geo = parts.next().unwrap_or("");
    let mut short = geo.to_owned();
    for part in parts {
        let abbreviation = match part {
            "northeast" => "ne",
            "northwest" => "nw",
            "southeast" => "se",
            "southwest" => "sw",
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            "central" => "c",
            other => other,
        };
        short.push_str(abbreviation);
    }
    let n = u32::from(letter) - u32::from('a') + 1;
    format!("{short}-az{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_of_a_region() {
        let reported = vec!["eu-west-1d".to_owned(), "us-east-1a".to_owned(), "eu-west-1a".into()];
        assert_eq!(
            of_region("eu-west-1", &reported),
            ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d"]
        );
        assert!(!is_zone_of("us-east-1", "us-east-10"));
    }

    #[test]
    fn zone_ids_read_like_aws() {
        assert_eq!(zone_id("us-east-1a"), "use1-az1");
        assert_eq!(zone_id("ap-southeast-2c"), "apse2-az3");
        assert_eq!(zone_id("eu-central-1b"), "euc1-az2");
    }
}
