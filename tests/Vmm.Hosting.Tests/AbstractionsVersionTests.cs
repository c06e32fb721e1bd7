using Vmm.Abstractions;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

public class AbstractionsVersionTests
{
    private static readonly string Fakes = TestPaths.TestPlugin("Vmm.TestPlugins.Fakes");

    [Theory]
    [InlineData("0.1.0", "0.1.0", true)]
    [InlineData("0.1.0", "0.1.7", true)]
    [InlineData("0.1.9", "0.1.0", false)]
    [InlineData("0.2.0", "0.1.0", false)]
    [InlineData("0.1.0", "0.2.0", false)]
    [InlineData("1.0.0", "1.3.0", true)]
    [InlineData("1.4.0", "1.3.0", false)]
    [InlineData("1.0.0", "2.0.0", false)]
    [InlineData("2.0.0", "1.9.0", false)]
    public void IsCompatible_SameMajor_NoNewerVersion_AndBefore1_0TheSameMinor(string referenced, string host, bool compatible)
    {
        Assert.Equal(compatible, AbstractionsVersion.IsCompatible(Version.Parse(referenced), Version.Parse(host)));
    }

    [Fact]
    public void ReferencedBy_ReadsTheVersionTheBuiltPluginWasCompiledAgainst()
    {
        Assert.Equal(typeof(IVmmPlugin).Assembly.GetName().Version, AbstractionsVersion.ReferencedBy(Fakes));
        Assert.Equal(AbstractionsVersion.Host, typeof(IVmmPlugin).Assembly.GetName().Version);
    }

    [Fact]
    public void ReferencedBy_NoAssembly_IsNull()
    {
        using var scratch = new ScratchDirectory();

        Assert.Null(AbstractionsVersion.ReferencedBy(scratch.Write("not-a-plugin.dll", "MZ but no PE")));
    }

    [Fact]
    public void Load_PluginBuiltAgainstAnotherMajorVersion_IsRefusedBeforeLoading_NamingBothVersions()
    {
        using var scratch = new ScratchDirectory();
        var plugin = RetargetedPlugin.Write(Fakes, Path.Combine(scratch.Path, "old"), new Version(9, 0, 0, 0));
        var pluginsJson = scratch.PluginsJson(("Fakes", plugin));
        var host = AbstractionsVersion.Host;

        var error = Assert.Throws<PluginLoadException>(() => VmmHost.Load(pluginsJson));

        Assert.Equal(
            $"{pluginsJson}: plugins[0] \"Fakes\": built against Vmm.Abstractions 9.0.0, but this vmm has Vmm.Abstractions {host.ToString(3)}; "
            + $"rebuild the plugin against Vmm.Abstractions {host.Major}.{host.Minor}.* (its PackageReference Version), or use a vmm built with Vmm.Abstractions 9.0",
            error.Message);
        Assert.Equal(0, error.PluginIndex);
    }

    [Fact]
    public void Load_PluginRewrittenToTheHostsVersion_Loads()
    {
        using var scratch = new ScratchDirectory();
        var plugin = RetargetedPlugin.Write(Fakes, Path.Combine(scratch.Path, "same"), AbstractionsVersion.Host);

        using var loaded = VmmHost.Load(scratch.PluginsJson(("Fakes", plugin)));

        Assert.Equal("Fakes", Assert.Single(loaded.Plugins).Name);
    }
}
