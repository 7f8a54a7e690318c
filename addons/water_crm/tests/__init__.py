# This file is part of the water utility modules.
