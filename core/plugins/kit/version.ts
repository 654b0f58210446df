/**
 * The version of the plugin kit (`portcullis/plugin`): the contracts and the helpers a plugin imports. A plugin
 * declares the range it was written for in `apiVersion` (`'^1.0.0'`); the registry refuses one whose range this
 * version does not satisfy, with `ERR_PLUGIN_API_MISMATCH`. The major moves only when a contract changes in a way
 * that breaks plugins written for the previous one.
 */
export const KIT_API_VERSION = '1.7.0';
