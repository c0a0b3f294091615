"""The demo data set, synthetic and labelled so: its window (``period``), the planted
hot-spots (``planted``), the generator of incidents (``synthetic``), its loading into
the database and reset (``loader``), and Georgia's approximate geography
(``geography``)."""
