using Vmm.Testing;

namespace Vmm.Conformance.Tests;

/// <summary>Every component the plugins register has a conformance class here, so a new plugin (or a new kind) cannot skip the suite.</summary>
public sealed class DiscoveryTests
{
    [Fact]
    public void EveryRegisteredComponent_HasAConformanceClass()
    {
        var covered = typeof(DiscoveryTests).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(ComponentConformance).IsAssignableFrom(t))
            .Select(Subject)
            .ToList();
        Assert.Equal(covered.Count, covered.Distinct().Count());

        var host = ConformanceHost.For();
        Assert.NotEmpty(host.Components);
        var missing = host.Components
            .Where(c => !covered.Contains((c.Kind.Name, c.Name)))
            .Select(c => $"{c.Kind.Name} '{c.Name}' (from {c.Supplier})")
            .ToList();
        Assert.True(missing.Count == 0,
            $"components without a conformance class: {string.Join(", ", missing)}; derive one from the kind's class in Vmm.Testing (docs/conformance.md)");
        var stale = covered.Where(c => !host.Components.Any(h => h.Kind.Name == c.Kind && h.Name == c.Name)).ToList();
        Assert.True(stale.Count == 0, $"conformance classes for components nobody registers: {string.Join(", ", stale)}");
    }

    /// <summary>The kind and component a conformance class checks.</summary>
    private static (string Kind, string Name) Subject(Type type)
    {
        var instance = (ComponentConformance)Activator.CreateInstance(type)!;
        try
        {
            return (instance.Kind.Name, instance.ComponentName);
        }
        finally
        {
            (instance as IDisposable)?.Dispose();
        }
    }
}
