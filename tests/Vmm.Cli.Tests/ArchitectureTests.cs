namespace Vmm.Cli.Tests;

/// <summary>Issue 9's layering: the CLI parses arguments and draws; Hosting holds the results and the renderers a web front end reuses.</summary>
public sealed class ArchitectureTests
{
    [Fact]
    public void Vmm_ReferencesHostingAndAbstractionsButNotCore()
    {
        var references = typeof(Program).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();

        Assert.Contains("Vmm.Hosting", references);
        Assert.DoesNotContain("Vmm.Core", references);
    }

    [Fact]
    public void Hosting_DoesNotReferenceSpectreConsole()
    {
        var references = typeof(Vmm.Hosting.VmmHost).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();

        Assert.DoesNotContain(references, name => name!.StartsWith("Spectre", StringComparison.Ordinal));
        Assert.DoesNotContain(references, name => name!.StartsWith("System.CommandLine", StringComparison.Ordinal));
    }
}
