//! customer-analysis
