using Microsoft.Extensions.DependencyInjection;

namespace Vmm.Abstractions;

/// <summary>Registration helpers: a component is a keyed scoped service (one instance per run) plus a descriptor.</summary>
public static class VmmServiceCollectionExtensions
{
    /// <summary>Registers a component without options.</summary>
    public static IServiceCollection AddVmmComponent<TContract, TImpl>(this IServiceCollection services, ComponentKind kind, string name, string description)
        where TContract : class
        where TImpl : class, TContract
    {
        CheckContract<TContract>(kind);
        services.AddSingleton(new ComponentDescriptor(kind, name, description, typeof(TImpl)));
        services.AddKeyedScoped<TContract>(name, (sp, _) => ActivatorUtilities.CreateInstance<TImpl>(sp));
        return services;
    }

    /// <summary>Registers a component whose constructor takes <typeparamref name="TOptions"/>, bound from `options` keys "section.*".</summary>
    public static IServiceCollection AddVmmComponent<TContract, TImpl, TOptions>(this IServiceCollection services, ComponentKind kind, string name, string description, string? optionsSection = null)
        where TContract : class
        where TImpl : class, TContract
        where TOptions : class, new()
    {
        CheckContract<TContract>(kind);
        var section = optionsSection ?? name;
        services.AddSingleton(new ComponentDescriptor(kind, name, description, typeof(TImpl), typeof(TOptions), section));
        services.AddKeyedScoped<TContract>(name, (sp, _) =>
        {
            var options = sp.GetRequiredService<IComponentOptionsSource>().Get<TOptions>(section);
            return ActivatorUtilities.CreateInstance<TImpl>(sp, options);
        });
        return services;
    }

    private static void CheckContract<TContract>(ComponentKind kind)
    {
        if (kind.ContractType() != typeof(TContract))
            throw new ArgumentException($"A {kind.Key()} component must implement {kind.ContractType().Name}, not {typeof(TContract).Name}.", nameof(kind));
    }
}
