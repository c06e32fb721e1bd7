using Vmm.Cli.Tests.Infrastructure;
using Vmm.Hosting;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

public class AbstractionsVersionTests
{
    [Theory]
    [InlineData("plugins")]
    [InlineData("run", "scenarios/kernel")]
    [InlineData("compare", "--workload", "boot")]
    public void PluginBuiltAgainstAnIncompatibleAbstractions_Exits2_NamingBothVersions_WithoutAStackTrace(params string[] command)
    {
        using var scratch = new ScratchDirectory();
        var plugin = RetargetedPlugin.Write(TestPaths.TestPlugin("Vmm.TestPlugins.Fakes"), Path.Combine(scratch.Path, "old"), new Version(3, 2, 0, 0));
        var pluginsJson = scratch.PluginsJson(("Old", plugin));
        var host = AbstractionsVersion.Host;

        var (exitCode, stdout, stderr) = ProcessRunner.Run("dotnet", [ProcessRunner.VmmDll, .. command, "--plugins", pluginsJson]);

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.Equal(
            $"vmm: {pluginsJson}: plugins[0] \"Old\": built against Vmm.Abstractions 3.2.0, but this vmm has Vmm.Abstractions {host.ToString(3)}; "
            + $"rebuild the plugin against Vmm.Abstractions {host.Major}.{host.Minor}.* (its PackageReference Version), or use a vmm built with Vmm.Abstractions 3.2",
            stderr.Trim());
    }
}
