"""Static knowledge the generator draws on: device types, metrics, units, makers, real cities.

Everything here is plain data; the expression builders read it, nothing here touches Spark.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CITIES",
    "DEFAULT_DEVICE_TYPE_WEIGHTS",
    "DEVICE_STATUSES",
    "DEVICE_STATUS_WEIGHTS",
    "DEVICE_TYPES",
    "FACILITY_KINDS",
    "METRICS",
    "City",
    "DeviceType",
    "Metric",
    "ProductLine",
]


@dataclass(frozen=True)
class Metric:
    """A measured quantity: its name in ``sensor_readings``, unit and physically plausible range."""

    name: str
    unit: str
    low: float
    high: float


METRICS: dict[str, Metric] = {
    "temperature": Metric("temperature", "celsius", -40.0, 60.0),
    "humidity": Metric("humidity", "percent", 0.0, 100.0),
    "pressure": Metric("pressure", "hPa", 950.0, 1070.0),
    "vibration": Metric("vibration", "mm/s", 0.0, 50.0),
    "power": Metric("power", "kW", 0.0, 250.0),
}


@dataclass(frozen=True)
class ProductLine:
    """One maker's models of a device type; a model name belongs to one maker only."""

    manufacturer: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class DeviceType:
    """A kind of device: what it measures, how it is powered, who makes it and which models exist."""

    name: str
    code: str
    metrics: tuple[str, ...]
    lines: tuple[ProductLine, ...]
    # runs on a battery (it can report Battery Low), rather than on mains power
    battery_powered: bool

    @property
    def manufacturers(self) -> tuple[str, ...]:
        """The makers of this type, in catalog order."""
        return tuple(line.manufacturer for line in self.lines)

    @property
    def models(self) -> tuple[str, ...]:
        """Every model of this type, maker by maker."""
        return tuple(m for line in self.lines for m in line.models)


def _lines(*lines: tuple[str, tuple[str, ...]]) -> tuple[ProductLine, ...]:
    return tuple(ProductLine(maker, models) for maker, models in lines)


DEVICE_TYPES: tuple[DeviceType, ...] = (
    DeviceType("Temperature Sensor", "TS", ("temperature",), _lines(
        ("SensorCorp", ("SC-T100", "SC-T220")), ("IoTech", ("IT-TS3", "IT-TS5 Pro")),
        ("Thermatic", ("TM-310", "TM-350X"))), battery_powered=True),
    DeviceType("Humidity Sensor", "HS", ("humidity",), _lines(
        ("SensorCorp", ("SC-H10", "SC-H40")), ("IoTech", ("IT-HS2",)),
        ("AeroSense", ("AS-H75 Pro", "AS-H90"))), battery_powered=True),
    DeviceType("Pressure Sensor", "PS", ("pressure",), _lines(
        ("SensorCorp", ("SC-P900", "SC-P1100")), ("BaroTech", ("BT-Baro 2", "BT-Baro 4X"))), battery_powered=True),
    DeviceType("Motion Detector", "MD", ("vibration",), _lines(
        ("SmartDevices", ("SD-M1", "SD-M3 Ultra")), ("IoTech", ("IT-MD7",)),
        ("Vibrasense", ("VS-200", "VS-400"))), battery_powered=True),
    DeviceType("Smart Meter", "SM", ("power",), _lines(
        ("TelcoSystems", ("TLC-M200", "TLC-M400")), ("GridLine", ("GL-800", "GL-1600")),
        ("SmartDevices", ("SD-E2",))), battery_powered=False),
    DeviceType("GPS Tracker", "GT", (), _lines(
        ("TelcoSystems", ("TLC-G5", "TLC-G9 LTE")), ("FleetTrack", ("FT-Nav 3", "FT-Nav 5"))),
        battery_powered=True),
    DeviceType("Camera", "CM", (), _lines(
        ("SmartDevices", ("SD-C1080", "SD-C4K")), ("OptiView", ("OV-Dome 2", "OV-Bullet 4K"))),
        battery_powered=False),
    DeviceType("HVAC Controller", "HV", ("temperature", "power"), _lines(
        ("ClimaSys", ("CS-20", "CS-45", "CS-90")), ("IoTech", ("IT-HV4",))), battery_powered=False),
)

# Weights of the eight types in a fleet (the seed lists the types; these shares are ours).
DEFAULT_DEVICE_TYPE_WEIGHTS: dict[str, float] = {
    "Temperature Sensor": 20.0,
    "Humidity Sensor": 15.0,
    "Pressure Sensor": 10.0,
    "Motion Detector": 10.0,
    "Smart Meter": 15.0,
    "GPS Tracker": 10.0,
    "Camera": 8.0,
    "HVAC Controller": 12.0,
}

DEVICE_STATUSES: tuple[str, ...] = ("Online", "Offline", "Maintenance", "Decommissioned")
DEVICE_STATUS_WEIGHTS: tuple[float, ...] = (85.0, 8.0, 5.0, 2.0)

FACILITY_KINDS: tuple[str, ...] = (
    "Plant", "Warehouse", "Distribution Center", "Office", "Data Center", "Factory", "Depot", "Campus",
)


@dataclass(frozen=True)
class City:
    """A real city: centre coordinates (WGS84 degrees), altitude in metres and IANA time zone."""

    name: str
    region: str
    country: str
    latitude: float
    longitude: float
    altitude: float
    timezone: str


CITIES: tuple[City, ...] = (
    City("San Francisco", "California", "United States", 37.7749, -122.4194, 16.0, "America/Los_Angeles"),
    City("Los Angeles", "California", "United States", 34.0522, -118.2437, 89.0, "America/Los_Angeles"),
    City("San Diego", "California", "United States", 32.7157, -117.1611, 19.0, "America/Los_Angeles"),
    City("Seattle", "Washington", "United States", 47.6062, -122.3321, 53.0, "America/Los_Angeles"),
    City("Portland", "Oregon", "United States", 45.5152, -122.6784, 15.0, "America/Los_Angeles"),
    City("Las Vegas", "Nevada", "United States", 36.1699, -115.1398, 610.0, "America/Los_Angeles"),
    City("Phoenix", "Arizona", "United States", 33.4484, -112.0740, 331.0, "America/Phoenix"),
    City("Denver", "Colorado", "United States", 39.7392, -104.9903, 1609.0, "America/Denver"),
    City("Salt Lake City", "Utah", "United States", 40.7608, -111.8910, 1288.0, "America/Denver"),
    City("Dallas", "Texas", "United States", 32.7767, -96.7970, 131.0, "America/Chicago"),
    City("Houston", "Texas", "United States", 29.7604, -95.3698, 15.0, "America/Chicago"),
    City("Austin", "Texas", "United States", 30.2672, -97.7431, 149.0, "America/Chicago"),
    City("Chicago", "Illinois", "United States", 41.8781, -87.6298, 181.0, "America/Chicago"),
    City("Minneapolis", "Minnesota", "United States", 44.9778, -93.2650, 264.0, "America/Chicago"),
    City("Kansas City", "Missouri", "United States", 39.0997, -94.5786, 277.0, "America/Chicago"),
    City("Nashville", "Tennessee", "United States", 36.1627, -86.7816, 169.0, "America/Chicago"),
    City("Detroit", "Michigan", "United States", 42.3314, -83.0458, 183.0, "America/Detroit"),
    City("Atlanta", "Georgia", "United States", 33.7490, -84.3880, 320.0, "America/New_York"),
    City("Miami", "Florida", "United States", 25.7617, -80.1918, 2.0, "America/New_York"),
    City("Charlotte", "North Carolina", "United States", 35.2271, -80.8431, 229.0, "America/New_York"),
    City("Washington", "District of Columbia", "United States", 38.9072, -77.0369, 7.0, "America/New_York"),
    City("Philadelphia", "Pennsylvania", "United States", 39.9526, -75.1652, 12.0, "America/New_York"),
    City("Pittsburgh", "Pennsylvania", "United States", 40.4406, -79.9959, 230.0, "America/New_York"),
    City("New York", "New York", "United States", 40.7128, -74.0060, 10.0, "America/New_York"),
    City("Boston", "Massachusetts", "United States", 42.3601, -71.0589, 43.0, "America/New_York"),
    City("Toronto", "Ontario", "Canada", 43.6532, -79.3832, 76.0, "America/Toronto"),
    City("Montreal", "Quebec", "Canada", 45.5019, -73.5674, 36.0, "America/Toronto"),
    City("Vancouver", "British Columbia", "Canada", 49.2827, -123.1207, 70.0, "America/Vancouver"),
    City("Calgary", "Alberta", "Canada", 51.0447, -114.0719, 1045.0, "America/Edmonton"),
    City("Mexico City", "Mexico City", "Mexico", 19.4326, -99.1332, 2240.0, "America/Mexico_City"),
    City("Monterrey", "Nuevo Leon", "Mexico", 25.6866, -100.3161, 540.0, "America/Monterrey"),
    City("Sao Paulo", "Sao Paulo", "Brazil", -23.5505, -46.6333, 760.0, "America/Sao_Paulo"),
    City("Buenos Aires", "Buenos Aires", "Argentina", -34.6037, -58.3816, 25.0, "America/Argentina/Buenos_Aires"),
    City("Santiago", "Santiago Metropolitan", "Chile", -33.4489, -70.6693, 570.0, "America/Santiago"),
    City("Bogota", "Bogota", "Colombia", 4.7110, -74.0721, 2640.0, "America/Bogota"),
    City("London", "England", "United Kingdom", 51.5074, -0.1278, 11.0, "Europe/London"),
    City("Manchester", "England", "United Kingdom", 53.4808, -2.2426, 38.0, "Europe/London"),
    City("Dublin", "Leinster", "Ireland", 53.3498, -6.2603, 20.0, "Europe/Dublin"),
    City("Paris", "Ile-de-France", "France", 48.8566, 2.3522, 35.0, "Europe/Paris"),
    City("Lyon", "Auvergne-Rhone-Alpes", "France", 45.7640, 4.8357, 173.0, "Europe/Paris"),
    City("Berlin", "Berlin", "Germany", 52.5200, 13.4050, 34.0, "Europe/Berlin"),
    City("Munich", "Bavaria", "Germany", 48.1351, 11.5820, 519.0, "Europe/Berlin"),
    City("Hamburg", "Hamburg", "Germany", 53.5511, 9.9937, 6.0, "Europe/Berlin"),
    City("Amsterdam", "North Holland", "Netherlands", 52.3676, 4.9041, -2.0, "Europe/Amsterdam"),
    City("Rotterdam", "South Holland", "Netherlands", 51.9244, 4.4777, 0.0, "Europe/Amsterdam"),
    City("Brussels", "Brussels-Capital", "Belgium", 50.8503, 4.3517, 13.0, "Europe/Brussels"),
    City("Madrid", "Community of Madrid", "Spain", 40.4168, -3.7038, 667.0, "Europe/Madrid"),
    City("Barcelona", "Catalonia", "Spain", 41.3874, 2.1686, 12.0, "Europe/Madrid"),
    City("Milan", "Lombardy", "Italy", 45.4642, 9.1900, 120.0, "Europe/Rome"),
    City("Rome", "Lazio", "Italy", 41.9028, 12.4964, 21.0, "Europe/Rome"),
    City("Zurich", "Zurich", "Switzerland", 47.3769, 8.5417, 408.0, "Europe/Zurich"),
    City("Vienna", "Vienna", "Austria", 48.2082, 16.3738, 190.0, "Europe/Vienna"),
    City("Stockholm", "Stockholm", "Sweden", 59.3293, 18.0686, 28.0, "Europe/Stockholm"),
    City("Copenhagen", "Capital Region", "Denmark", 55.6761, 12.5683, 14.0, "Europe/Copenhagen"),
    City("Oslo", "Oslo", "Norway", 59.9139, 10.7522, 23.0, "Europe/Oslo"),
    City("Helsinki", "Uusimaa", "Finland", 60.1699, 24.9384, 17.0, "Europe/Helsinki"),
    City("Warsaw", "Masovia", "Poland", 52.2297, 21.0122, 100.0, "Europe/Warsaw"),
    City("Prague", "Prague", "Czechia", 50.0755, 14.4378, 235.0, "Europe/Prague"),
    City("Istanbul", "Istanbul", "Turkey", 41.0082, 28.9784, 39.0, "Europe/Istanbul"),
    City("Dubai", "Dubai", "United Arab Emirates", 25.2048, 55.2708, 16.0, "Asia/Dubai"),
    City("Riyadh", "Riyadh", "Saudi Arabia", 24.7136, 46.6753, 612.0, "Asia/Riyadh"),
    City("Johannesburg", "Gauteng", "South Africa", -26.2041, 28.0473, 1753.0, "Africa/Johannesburg"),
    City("Cape Town", "Western Cape", "South Africa", -33.9249, 18.4241, 25.0, "Africa/Johannesburg"),
    City("Lagos", "Lagos", "Nigeria", 6.5244, 3.3792, 41.0, "Africa/Lagos"),
    City("Nairobi", "Nairobi", "Kenya", -1.2921, 36.8219, 1795.0, "Africa/Nairobi"),
    City("Cairo", "Cairo", "Egypt", 30.0444, 31.2357, 23.0, "Africa/Cairo"),
    City("Mumbai", "Maharashtra", "India", 19.0760, 72.8777, 14.0, "Asia/Kolkata"),
    City("Bengaluru", "Karnataka", "India", 12.9716, 77.5946, 920.0, "Asia/Kolkata"),
    City("Delhi", "Delhi", "India", 28.7041, 77.1025, 216.0, "Asia/Kolkata"),
    City("Singapore", "Singapore", "Singapore", 1.3521, 103.8198, 15.0, "Asia/Singapore"),
    City("Bangkok", "Bangkok", "Thailand", 13.7563, 100.5018, 2.0, "Asia/Bangkok"),
    City("Jakarta", "Jakarta", "Indonesia", -6.2088, 106.8456, 8.0, "Asia/Jakarta"),
    City("Hong Kong", "Hong Kong", "China", 22.3193, 114.1694, 32.0, "Asia/Hong_Kong"),
    City("Shanghai", "Shanghai", "China", 31.2304, 121.4737, 4.0, "Asia/Shanghai"),
    City("Shenzhen", "Guangdong", "China", 22.5431, 114.0579, 20.0, "Asia/Shanghai"),
    City("Beijing", "Beijing", "China", 39.9042, 116.4074, 44.0, "Asia/Shanghai"),
    City("Seoul", "Seoul", "South Korea", 37.5665, 126.9780, 38.0, "Asia/Seoul"),
    City("Tokyo", "Tokyo", "Japan", 35.6762, 139.6503, 40.0, "Asia/Tokyo"),
    City("Osaka", "Osaka", "Japan", 34.6937, 135.5023, 12.0, "Asia/Tokyo"),
    City("Taipei", "Taipei", "Taiwan", 25.0330, 121.5654, 9.0, "Asia/Taipei"),
    City("Manila", "Metro Manila", "Philippines", 14.5995, 120.9842, 13.0, "Asia/Manila"),
    City("Sydney", "New South Wales", "Australia", -33.8688, 151.2093, 58.0, "Australia/Sydney"),
    City("Melbourne", "Victoria", "Australia", -37.8136, 144.9631, 31.0, "Australia/Melbourne"),
    City("Brisbane", "Queensland", "Australia", -27.4698, 153.0251, 27.0, "Australia/Brisbane"),
    City("Perth", "Western Australia", "Australia", -31.9505, 115.8605, 31.0, "Australia/Perth"),
    City("Auckland", "Auckland", "New Zealand", -36.8485, 174.7633, 26.0, "Pacific/Auckland"),
)

# Climate normals of every city, rounded: (annual mean temperature in C, half the difference
# between the warmest and the coldest month in C). Ambient temperature readings follow them.
CLIMATE: dict[str, tuple[float, float]] = {
    "San Francisco": (14.5, 3.5), "Los Angeles": (18.5, 4.5), "San Diego": (17.5, 4.0), "Seattle": (11.5, 7.0),
    "Portland": (12.5, 8.0), "Las Vegas": (20.5, 12.5), "Phoenix": (24.0, 11.0), "Denver": (10.5, 11.5),
    "Salt Lake City": (11.5, 13.5), "Dallas": (19.5, 10.5), "Houston": (21.0, 9.0), "Austin": (21.0, 9.5),
    "Chicago": (10.5, 14.0), "Minneapolis": (8.0, 16.0), "Kansas City": (13.0, 14.0), "Nashville": (15.5, 11.5),
    "Detroit": (10.0, 13.5), "Atlanta": (17.0, 10.0), "Miami": (25.5, 4.5), "Charlotte": (16.5, 11.0),
    "Washington": (14.5, 12.5), "Philadelphia": (13.5, 12.5), "Pittsburgh": (11.5, 12.5), "New York": (13.0, 12.5),
    "Boston": (11.0, 12.5), "Toronto": (9.0, 14.0), "Montreal": (7.0, 15.0), "Vancouver": (11.0, 7.0),
    "Calgary": (4.5, 12.0), "Mexico City": (17.0, 3.0), "Monterrey": (22.5, 7.0), "Sao Paulo": (20.0, 3.5),
    "Buenos Aires": (18.0, 7.0), "Santiago": (14.5, 6.5), "Bogota": (14.0, 0.5), "London": (11.5, 7.0),
    "Manchester": (10.0, 6.0), "Dublin": (10.0, 5.5), "Paris": (12.5, 8.0), "Lyon": (12.5, 9.0),
    "Berlin": (10.0, 9.5), "Munich": (9.0, 10.0), "Hamburg": (9.5, 8.5), "Amsterdam": (10.5, 7.5),
    "Rotterdam": (10.5, 7.5), "Brussels": (11.0, 7.5), "Madrid": (15.0, 10.0), "Barcelona": (16.5, 7.5),
    "Milan": (13.5, 11.0), "Rome": (15.5, 8.5), "Zurich": (9.5, 9.5), "Vienna": (11.0, 10.5),
    "Stockholm": (7.5, 10.0), "Copenhagen": (9.0, 8.5), "Oslo": (6.5, 10.5), "Helsinki": (6.0, 11.0),
    "Warsaw": (8.5, 11.0), "Prague": (9.0, 10.0), "Istanbul": (15.0, 9.0), "Dubai": (28.0, 8.5),
    "Riyadh": (26.5, 11.0), "Johannesburg": (16.0, 5.0), "Cape Town": (17.0, 4.5), "Lagos": (27.0, 1.5),
    "Nairobi": (19.0, 1.5), "Cairo": (22.5, 7.0), "Mumbai": (27.5, 2.5), "Bengaluru": (24.0, 3.0),
    "Delhi": (25.0, 10.0), "Singapore": (27.5, 1.0), "Bangkok": (29.0, 2.0), "Jakarta": (28.0, 0.5),
    "Hong Kong": (23.5, 6.5), "Shanghai": (17.0, 12.0), "Shenzhen": (23.0, 7.0), "Beijing": (13.0, 15.0),
    "Seoul": (12.5, 14.0), "Tokyo": (16.0, 11.0), "Osaka": (17.0, 11.5), "Taipei": (23.5, 7.0),
    "Manila": (28.0, 1.5), "Sydney": (18.5, 5.0), "Melbourne": (15.0, 5.0), "Brisbane": (21.0, 5.0),
    "Perth": (18.5, 5.5), "Auckland": (15.5, 4.5),
}
# The seed's seasonal amplitude (15 C) is the swing of a strongly seasonal site; each city's own
# swing is that amplitude times CLIMATE swing / REFERENCE_SWING.
REFERENCE_SWING = 15.0

# Mean difference of air temperature and dew point of every city, rounded (C): a few degrees in
# humid and maritime air, 15-20 in deserts. Relative humidity follows from it (see weather.py).
DEW_POINT_DEPRESSION: dict[str, float] = {
    "San Francisco": 4.0, "Los Angeles": 8.0, "San Diego": 6.0, "Seattle": 4.5, "Portland": 5.0,
    "Las Vegas": 18.0, "Phoenix": 17.0, "Denver": 11.0, "Salt Lake City": 11.0, "Dallas": 7.0, "Houston": 4.0,
    "Austin": 6.0, "Chicago": 5.5, "Minneapolis": 6.0, "Kansas City": 6.0, "Nashville": 5.5, "Detroit": 5.5,
    "Atlanta": 6.0, "Miami": 3.5, "Charlotte": 6.0, "Washington": 6.0, "Philadelphia": 5.5, "Pittsburgh": 5.5,
    "New York": 5.5, "Boston": 5.5, "Toronto": 5.0, "Montreal": 5.0, "Vancouver": 4.0, "Calgary": 8.0,
    "Mexico City": 9.0, "Monterrey": 8.0, "Sao Paulo": 5.0, "Buenos Aires": 5.0, "Santiago": 10.0,
    "Bogota": 5.0, "London": 4.0, "Manchester": 3.5, "Dublin": 3.5, "Paris": 4.5, "Lyon": 5.5, "Berlin": 5.0,
    "Munich": 5.0, "Hamburg": 4.0, "Amsterdam": 3.5, "Rotterdam": 3.5, "Brussels": 4.0, "Madrid": 10.0,
    "Barcelona": 5.5, "Milan": 5.0, "Rome": 6.0, "Zurich": 4.5, "Vienna": 5.5, "Stockholm": 4.5,
    "Copenhagen": 3.5, "Oslo": 4.5, "Helsinki": 4.0, "Warsaw": 4.5, "Prague": 5.0, "Istanbul": 5.0,
    "Dubai": 12.0, "Riyadh": 22.0, "Johannesburg": 10.0, "Cape Town": 6.0, "Lagos": 3.0, "Nairobi": 8.0,
    "Cairo": 12.0, "Mumbai": 5.0, "Bengaluru": 7.0, "Delhi": 11.0, "Singapore": 3.0, "Bangkok": 4.5,
    "Jakarta": 4.0, "Hong Kong": 4.0, "Shanghai": 4.5, "Shenzhen": 4.5, "Beijing": 9.0, "Seoul": 6.0,
    "Tokyo": 5.5, "Osaka": 5.5, "Taipei": 4.0, "Manila": 4.5, "Sydney": 6.0, "Melbourne": 6.5,
    "Brisbane": 6.0, "Perth": 8.0, "Auckland": 4.0,
}
