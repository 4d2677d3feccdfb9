//! Exports of pin sets for apps and tools that pin statically.
//!
//! Every format takes the same canonical pins and adds its own prefix or structure. Output is
//! deterministic: hosts sorted by domain, then pattern, pins sorted by their base64 text, so the same sets
//! always give the same bytes and diffs stay small.
//!
//! The formats do not agree on what a subdomain rule covers:
//!
//! | format | exact host | `*.domain` (one level) | `**.domain` (any depth) |
//! |---|---|---|---|
//! | OkHttp | exact | `*.domain`, same meaning | `**.domain`, which also covers `domain` itself |
//! | Android NSC | `includeSubdomains="false"` | `includeSubdomains="true"`: `domain` and every level | same |
//! | iOS `NSPinnedDomains` | `NSIncludesSubdomains` false | `NSIncludesSubdomains` true: `domain` and one level | rejected: ATS covers one level only |
//! | TrustKit | `kTSKIncludeSubdomains` false | `kTSKIncludeSubdomains` true: `domain` and every level | same |
//! | curl | one pin list per connection; the host is a comment | same | same |
//!
//! Where a format can only cover more hosts than the pattern, the output notes it in a comment.
//! Where it would cover fewer, the export is rejected.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::pin::Pin;
use crate::pinset::{KeyLevel, PinEntry, PinRole, PinSet};
use crate::{Error, HostPattern};

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// A Kotlin `CertificatePinner.Builder()` snippet with `sha256/` pins.
    OkHttp,
    /// An Android Network Security Config XML file.
    AndroidNsc,
    /// An Info.plist fragment with `NSAppTransportSecurity` / `NSPinnedDomains`.
    IosPlist,
    /// A Swift TrustKit configuration dictionary.
    TrustKit,
    /// curl `--pinnedpubkey` values, `sha256//a;sha256//b`, one line per host.
    Curl,
}

impl ExportFormat {
    /// Every format, in a fixed order.
    pub const ALL: [Self; 5] = [
        Self::OkHttp,
        Self::AndroidNsc,
        Self::IosPlist,
        Self::TrustKit,
        Self::Curl,
    ];

    /// Returns the format's name on the command line: `okhttp`, `android-nsc`, `ios-plist`,
    /// `trustkit` or `curl`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OkHttp => "okhttp",
            Self::AndroidNsc => "android-nsc",
            Self::IosPlist => "ios-plist",
            Self::TrustKit => "trustkit",
            Self::Curl => "curl",
        }
    }

    /// Looks a format up by its [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|format| format.name() == name)
    }
}

/// Writes `sets` in `format`, with the pins in force at `now` (Unix seconds).
pub fn export(format: ExportFormat, sets: &[PinSet], now: u64) -> Result<String, Error> {
    let hosts = prepare(format, sets, now)?;
    Ok(match format {
        ExportFormat::OkHttp => okhttp(&hosts),
        ExportFormat::AndroidNsc => android_nsc(&hosts)?,
        ExportFormat::IosPlist => ios_plist(&hosts)?,
        ExportFormat::TrustKit => trustkit(&hosts)?,
        ExportFormat::Curl => curl(&hosts),
    })
}

/// One host ready for export.
struct Host<'a> {
    pattern: &'a HostPattern,
    entries: Vec<&'a PinEntry>,
    expires_at: u64,
}

impl Host<'_> {
    fn pins(&self) -> impl Iterator<Item = Pin> + '_ {
        self.entries.iter().map(|entry| entry.pin)
    }
}

fn prepare(format: ExportFormat, sets: &[PinSet], now: u64) -> Result<Vec<Host<'_>>, Error> {
    let mut hosts: Vec<Host<'_>> = Vec::with_capacity(sets.len());
    for set in sets {
        set.check()?;
        let mut entries: Vec<&PinEntry> = set.active(now).collect();
        entries.sort_by_key(|entry| entry.pin.to_base64());
        if entries.is_empty() {
            return Err(Error::ExportUnsupported {
                format: format.name(),
                detail: format!("{} has no pin in force", set.host),
            });
        }
        hosts.push(Host {
            pattern: &set.host,
            entries,
            expires_at: set.expires_at,
        });
    }
    hosts.sort_by_key(|host| (host.pattern.domain().to_owned(), host.pattern.to_string()));
    if let Some(pair) = hosts
        .windows(2)
        .find(|pair| pair[0].pattern == pair[1].pattern)
    {
        return Err(Error::ExportUnsupported {
            format: format.name(),
            detail: format!("{} has more than one pin set", pair[0].pattern),
        });
    }
    Ok(hosts)
}

/// Rejects two sets for one domain in the formats that key entries by domain name, because
/// they hold each domain once.
fn reject_shared_domains(format: ExportFormat, hosts: &[Host<'_>]) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for host in hosts {
        if !seen.insert(host.pattern.domain()) {
            return Err(Error::ExportUnsupported {
                format: format.name(),
                detail: format!(
                    "two pin sets map to the domain {}; this format accepts each domain once",
                    host.pattern.domain()
                ),
            });
        }
    }
    Ok(())
}

fn okhttp(hosts: &[Host<'_>]) -> String {
    let mut out = String::new();
    out.push_str("// Generated by Avow: SPKI SHA-256 pins for OkHttp's CertificatePinner.\n");
    for host in hosts {
        if let HostPattern::AnyDepth(domain) = host.pattern {
            let _ = writeln!(
                out,
                "// OkHttp applies \"**.{domain}\" to {domain} itself as well."
            );
        }
    }
    out.push_str("val certificatePinner = CertificatePinner.Builder()\n");
    for host in hosts {
        out.push_str("    .add(\n");
        let _ = writeln!(out, "        \"{}\",", host.pattern);
        for pin in host.pins() {
            let _ = writeln!(out, "        \"sha256/{pin}\",");
        }
        out.push_str("    )\n");
    }
    out.push_str("    .build()\n");
    out
}

fn android_nsc(hosts: &[Host<'_>]) -> Result<String, Error> {
    reject_shared_domains(ExportFormat::AndroidNsc, hosts)?;
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(
        "<!-- Generated by Avow. Android stops checking pins after the expiration date \
         (fail-open) and reads the date in the device's time zone. -->\n",
    );
    out.push_str("<network-security-config>\n");
    for host in hosts {
        out.push_str("    <domain-config>\n");
        let include = match host.pattern {
            HostPattern::Exact(_) => false,
            HostPattern::OneLevel(domain) | HostPattern::AnyDepth(domain) => {
                let _ = writeln!(
                    out,
                    "        <!-- {}: includeSubdomains covers {} itself and every level \
                     below it. -->",
                    xml_comment(&host.pattern.to_string()),
                    xml_comment(domain)
                );
                true
            }
        };
        let _ = writeln!(
            out,
            "        <domain includeSubdomains=\"{include}\">{}</domain>",
            xml_escape(host.pattern.domain())
        );
        let _ = writeln!(
            out,
            "        <pin-set expiration=\"{}\">",
            utc_date(host.expires_at)
        );
        for pin in host.pins() {
            let _ = writeln!(out, "            <pin digest=\"SHA-256\">{pin}</pin>");
        }
        out.push_str("        </pin-set>\n");
        out.push_str("    </domain-config>\n");
    }
    out.push_str("</network-security-config>\n");
    Ok(out)
}

fn ios_plist(hosts: &[Host<'_>]) -> Result<String, Error> {
    let format = ExportFormat::IosPlist;
    reject_shared_domains(format, hosts)?;
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
    );
    out.push_str("<!-- Generated by Avow: merge NSAppTransportSecurity into Info.plist. -->\n");
    out.push_str("<plist version=\"1.0\">\n<dict>\n");
    out.push_str("\t<key>NSAppTransportSecurity</key>\n\t<dict>\n");
    out.push_str("\t\t<key>NSPinnedDomains</key>\n\t\t<dict>\n");
    for host in hosts {
        let include = match host.pattern {
            HostPattern::Exact(_) => false,
            HostPattern::OneLevel(domain) => {
                let _ = writeln!(
                    out,
                    "\t\t\t<!-- {}: NSIncludesSubdomains also covers {} itself. -->",
                    xml_comment(&host.pattern.to_string()),
                    xml_comment(domain)
                );
                true
            }
            HostPattern::AnyDepth(_) => {
                return Err(Error::ExportUnsupported {
                    format: format.name(),
                    detail: format!(
                        "{}: NSIncludesSubdomains covers one level of subdomains only; use \
                         *.{} or list the deeper hosts",
                        host.pattern,
                        host.pattern.domain()
                    ),
                });
            }
        };
        let (list, pins) = ats_identities(host)?;

        let _ = writeln!(
            out,
            "\t\t\t<key>{}</key>",
            xml_escape(host.pattern.domain())
        );
        out.push_str("\t\t\t<dict>\n");
        out.push_str("\t\t\t\t<key>NSIncludesSubdomains</key>\n");
        let _ = writeln!(out, "\t\t\t\t<{include}/>");
        let _ = writeln!(out, "\t\t\t\t<key>{list}</key>");
        out.push_str("\t\t\t\t<array>\n");
        for pin in pins {
            out.push_str("\t\t\t\t\t<dict>\n");
            out.push_str("\t\t\t\t\t\t<key>SPKI-SHA256-BASE64</key>\n");
            let _ = writeln!(out, "\t\t\t\t\t\t<string>{pin}</string>");
            out.push_str("\t\t\t\t\t</dict>\n");
        }
        out.push_str("\t\t\t\t</array>\n");
        out.push_str("\t\t\t</dict>\n");
    }
    out.push_str("\t\t</dict>\n\t</dict>\n</dict>\n</plist>\n");
    Ok(out)
}

/// Chooses the ATS list for a host's pins: `NSPinnedLeafIdentities` or `NSPinnedCAIdentities`.
///
/// ATS requires a match in each list when both are present, which is stricter than a pin set,
/// so a set that mixes leaf and CA keys, or has keys of unknown level, is rejected.
fn ats_identities(host: &Host<'_>) -> Result<(&'static str, Vec<Pin>), Error> {
    let format = ExportFormat::IosPlist;
    let (mut leaf, mut ca, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for entry in &host.entries {
        match (entry.level, entry.role) {
            (_, PinRole::Root) | (Some(KeyLevel::Ca), _) => ca.push(entry.pin),
            (Some(KeyLevel::Leaf), _) => leaf.push(entry.pin),
            (None, _) => unknown.push(entry.pin.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::ExportUnsupported {
            format: format.name(),
            detail: format!(
                "{}: ATS keeps leaf and CA pins in separate lists, and it is not known \
                 whether {} belong to a leaf or a CA; set the level of each pin",
                host.pattern,
                unknown.join(", ")
            ),
        });
    }
    if !leaf.is_empty() && !ca.is_empty() {
        return Err(Error::ExportUnsupported {
            format: format.name(),
            detail: format!(
                "{}: the set mixes leaf and CA pins, and ATS requires a match in each list \
                 when both are given, which is stricter than the set",
                host.pattern
            ),
        });
    }
    if ca.is_empty() {
        Ok(("NSPinnedLeafIdentities", leaf))
    } else {
        Ok(("NSPinnedCAIdentities", ca))
    }
}

fn trustkit(hosts: &[Host<'_>]) -> Result<String, Error> {
    let format = ExportFormat::TrustKit;
    reject_shared_domains(format, hosts)?;
    if let Some(host) = hosts.iter().find(|host| host.entries.len() < 2) {
        return Err(Error::ExportUnsupported {
            format: format.name(),
            detail: format!(
                "{}: TrustKit rejects a domain with fewer than two pins",
                host.pattern
            ),
        });
    }
    let mut out = String::new();
    out.push_str("// Generated by Avow: TrustKit configuration. After kTSKExpirationDate\n");
    out.push_str("// TrustKit stops checking the domain's pins (fail-open).\n");
    out.push_str("let trustKitConfig: [String: Any] = [\n");
    out.push_str("    kTSKSwizzleNetworkDelegates: false,\n");
    out.push_str("    kTSKPinnedDomains: [\n");
    for host in hosts {
        let include = match host.pattern {
            HostPattern::Exact(_) => false,
            HostPattern::OneLevel(domain) | HostPattern::AnyDepth(domain) => {
                let _ = writeln!(
                    out,
                    "        // {}: kTSKIncludeSubdomains covers {domain} itself and every \
                     level below it.",
                    host.pattern
                );
                true
            }
        };
        let _ = writeln!(out, "        \"{}\": [", host.pattern.domain());
        out.push_str("            kTSKEnforcePinning: true,\n");
        let _ = writeln!(out, "            kTSKIncludeSubdomains: {include},");
        let _ = writeln!(
            out,
            "            kTSKExpirationDate: \"{}\",",
            utc_date(host.expires_at)
        );
        out.push_str("            kTSKPublicKeyHashes: [\n");
        for pin in host.pins() {
            let _ = writeln!(out, "                \"{pin}\",");
        }
        out.push_str("            ],\n");
        out.push_str("        ] as [String: Any],\n");
    }
    out.push_str("    ] as [String: Any],\n");
    out.push_str("]\n");
    Ok(out)
}

fn curl(hosts: &[Host<'_>]) -> String {
    let mut out = String::new();
    for host in hosts {
        let pins: Vec<String> = host.pins().map(|pin| format!("sha256//{pin}")).collect();
        let _ = writeln!(out, "# {}", host.pattern);
        let _ = writeln!(out, "{}", pins.join(";"));
    }
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

/// Makes text safe inside an XML comment, where `--` may not appear (IDNA A-labels have it).
fn xml_comment(text: &str) -> String {
    let mut out = xml_escape(text);
    while out.contains("--") {
        out = out.replace("--", "- -");
    }
    out
}

/// Formats Unix seconds as the UTC date `yyyy-mm-dd`.
fn utc_date(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    // Days since 1970-01-01 to a civil date, on the proleptic Gregorian calendar, counting
    // from 0000-03-01 so that leap days fall at the end of each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_748_736_000), "2025-06-01");
        assert_eq!(utc_date(1_748_736_000 - 1), "2025-05-31");
        assert_eq!(utc_date(4_102_444_800), "2100-01-01");
    }

    #[test]
    fn xml_escape_keeps_comments_closed() {
        assert_eq!(xml_escape("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
        assert_eq!(xml_escape("xn--a"), "xn--a");
        assert_eq!(xml_comment("*.xn--a"), "*.xn- -a");
    }

    #[test]
    fn names_round_trip() {
        for format in ExportFormat::ALL {
            assert_eq!(ExportFormat::from_name(format.name()), Some(format));
        }
        assert_eq!(ExportFormat::from_name("hpkp"), None);
    }
}
