"""Public holiday calendars per country, for notice periods that skip Sundays and public holidays."""
