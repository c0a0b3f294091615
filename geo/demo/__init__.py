"""The demo data set, synthetic and labelled so: the generator of incidents and planted
hot-spots (``synthetic``), its loading into the database and reset (``loader``), and
Georgia's approximate geography (``geography``)."""
