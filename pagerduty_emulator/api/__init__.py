"""The emulated REST API, by family (as the tap's streams are grouped); each family is a
part (mixin) of `Emulator`."""
