"""Physical constants of the Brooker classification and of the input images. No logic here."""

from typing import Final

#: Brooker 1973: class II leaves "at least 1 cm" between opposing bone surfaces; class III
#: "less than 1 cm". Exactly 10.0 mm is class II.
BROOKER_GAP_THRESHOLD_MM: Final = 10.0

#: Largest image the loader will decode, in megapixels (a 43 cm plate at 0.1 mm is ~18 MP).
MAX_MEGAPIXELS: Final = 120.0

#: Typical femoral head diameters (native 40-55 mm; prosthetic 22-36 mm).
NATIVE_HEAD_DIAMETER_MM: Final = (38.0, 58.0)
PROSTHETIC_HEAD_DIAMETER_MM: Final = (22.0, 40.0)

#: Typical AP pelvis magnification at the hip.
TYPICAL_MAGNIFICATION: Final = (1.10, 1.25)
