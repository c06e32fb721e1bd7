namespace Vmm.TestPlugins.NoPlugin;

/// <summary>A public type that is not an IVmmPlugin: the host must say the assembly has none.</summary>
public sealed class NotAPlugin
{
    public string Name => "NoPlugin";
}
