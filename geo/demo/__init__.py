"""The demo data set, synthetic and labelled so: the generator and loader of incidents
and planted hot-spots (``synthetic``) and Georgia's approximate geography
(``geography``)."""
