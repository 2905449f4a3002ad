"""aftersales-xl: a spreadsheet-native record keeper and validator for after-sales teams."""

__version__ = "0.3.0"
