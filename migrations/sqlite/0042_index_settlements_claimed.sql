CREATE INDEX ix_settlements_claimed ON settlements (claimed_until);
