//! What an identifier is, and how sure a recognizer is of it.

use serde::{Deserialize, Serialize};

/// The Safe Harbor identifier categories that occur in free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A person's name (the patient, a relative, a clinician).
    Name,
    /// A geographic unit below a state: street address, city, county, facility.
    Location,
    /// A ZIP code.
    Zip,
    /// A date (any element but the year).
    Date,
    /// An age over 89.
    Age,
    /// A telephone number.
    Phone,
    /// A fax number.
    Fax,
    /// An e-mail address.
    Email,
    /// A Social Security number.
    Ssn,
    /// A medical record number.
    MedicalRecord,
    /// A health-plan beneficiary number.
    HealthPlan,
    /// An account number.
    Account,
    /// A certificate or licence number (NPI, DEA, driver's licence).
    License,
    /// A vehicle identifier (VIN, licence plate).
    Vehicle,
    /// A device identifier or serial number.
    Device,
    /// A web address.
    Url,
    /// An IP address.
    IpAddress,
    /// Any other unique identifying number or code.
    OtherId,
}

impl Category {
    /// Every category.
    pub const ALL: [Self; 18] = [
        Self::Name,
        Self::Location,
        Self::Zip,
        Self::Date,
        Self::Age,
        Self::Phone,
        Self::Fax,
        Self::Email,
        Self::Ssn,
        Self::MedicalRecord,
        Self::HealthPlan,
        Self::Account,
        Self::License,
        Self::Vehicle,
        Self::Device,
        Self::Url,
        Self::IpAddress,
        Self::OtherId,
    ];

    /// The placeholder's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "NAME",
            Self::Location => "PLACE",
            Self::Zip => "ZIP",
            Self::Date => "DATE",
            Self::Age => "AGE",
            Self::Phone => "PHONE",
            Self::Fax => "FAX",
            Self::Email => "EMAIL",
            Self::Ssn => "SSN",
            Self::MedicalRecord => "MRN",
            Self::HealthPlan => "HEALTH-PLAN-ID",
            Self::Account => "ACCOUNT",
            Self::License => "LICENSE",
            Self::Vehicle => "VEHICLE-ID",
            Self::Device => "DEVICE-ID",
            Self::Url => "URL",
            Self::IpAddress => "IP",
            Self::OtherId => "ID",
        }
    }

    /// The category in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Location => "place below a state",
            Self::Zip => "ZIP code",
            Self::Date => "date",
            Self::Age => "age over 89",
            Self::Phone => "telephone number",
            Self::Fax => "fax number",
            Self::Email => "e-mail address",
            Self::Ssn => "Social Security number",
            Self::MedicalRecord => "medical record number",
            Self::HealthPlan => "health-plan beneficiary number",
            Self::Account => "account number",
            Self::License => "certificate or licence number",
            Self::Vehicle => "vehicle identifier",
            Self::Device => "device identifier",
            Self::Url => "web address",
            Self::IpAddress => "IP address",
            Self::OtherId => "other unique identifier",
        }
    }

    /// Whether a pattern recognises it (everything but names and places, which need context).
    pub fn is_structured(self) -> bool {
        !matches!(self, Self::Name | Self::Location)
    }
}

/// How sure a recognizer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// A word list alone, or a weak context: worth a look.
    Medium,
    /// A label, a title, a checksum or an unambiguous shape: must be reviewed before export.
    High,
}
